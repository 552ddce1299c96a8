package org.symbiont.x86.decode;

import org.symbiont.x86.Seeds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.symbiont.x86.exec.Families;

/**
 * Instruction lengths against GNU objdump ({@code objdump -D -b binary} with
 * {@code -mi386:x86-64}, {@code -mi386} and {@code -mi8086}).
 *
 * <p>{@link #acceptedInstructionsHaveObjdumpLengths}: random candidates from
 * {@link InsnGenerator} are decoded with {@link Families#TABLE}; every instruction the decoder
 * accepts is written, back to back with the others, into a flat binary that objdump disassembles
 * in one run per batch. Every instruction must start where an objdump line starts, end where one
 * ends, and never be "(bad)"; after a mismatch objdump is restarted at our next instruction, so
 * one mismatch reports once. The candidates the decoder rejects are disassembled too (each in a
 * slot of its own), and those objdump does decode are printed as an informational coverage report.
 *
 * <p>{@link #opcodeShapesMatchObjdump}: every opcode of every map is registered in a private
 * table, so {@link OpcodeShape} is checked against objdump whatever the families register.
 *
 * <p>Sizes: {@code -Dsymbiont.objdump.cases=N} candidates per mode (60 000 in CI, 2 000 000 with
 * {@code -P soak}); {@code -Dsymbiont.objdump.seed=S} (a number, or {@code random}) picks the
 * seed, printed with every failure so that a soak failure can be replayed.
 *
 * <p>Known differences, each accepted narrowly (never by loosening the length comparison):
 * <ul>
 *   <li>objdump prints prefixes it considers unused as lines of their own (a REX before another
 *       REX, a run of 14 prefixes): a line of nothing but prefix bytes and prefix names followed
 *       by the rest of our instruction is one instruction.
 *   <li>A REX followed by a legacy prefix, 0F 1A/0F 1B (MPX in objdump, reserved NOPs here) and
 *       FWAIT with prefixes are shown to objdump rewritten; see {@link #objdumpForm}.
 *   <li>objdump folds FWAIT (9B) into a following x87 instruction, to print FWAIT FNSTSW as the
 *       assembler's FSTSW macro and so on; the SDM lists "9B DD /7" as FSTSW but says the
 *       assembler issues two instructions, FWAIT and FNSTSW (SDM Vol. 2A, FSTSW, FSTCW, FSAVE,
 *       FSTENV, FCLEX, FINIT). Our FWAIT and the instruction after it then span objdump's lines
 *       together; see {@link #matchFwaitPair}.
 *   <li>Encodings objdump decodes and we reject (3DNow!, VEX/EVEX/XOP, unregistered
 *       instructions) are not failures; the coverage report lists them.
 * </ul>
 */
class ObjdumpLengthTest {
    private static final long DEFAULT_SEED = 0x0B_7D_0A_5EEDL;
    private static final int BATCH = 20_000;
    private static final int MAX_REPORTED = 25;
    private static final int MAX_MISMATCHES = 200;
    private static final int MAX_REJECTED_SAMPLES = 20_000;
    /** NOPs after an instruction in a slot: objdump resynchronises within them (no line exceeds 15 bytes). */
    private static final int SLOT_PADDING = 16;
    private static final int SHAPE_VARIANTS = 16;
    /** The shape test tries every opcode with each mandatory-prefix class as its last prefix. */
    private static final int[] MANDATORY_PREFIXES = {-1, 0x66, 0xF3, 0xF2};

    private static long seed;
    private static int cases;
    private static Path dir;

    @BeforeAll
    static void setUp() throws IOException {
        assumeTrue(Objdump.available(), "GNU objdump not installed: test skipped");
        String s = System.getProperty("symbiont.objdump.seed", "");
        seed = s.isBlank() ? DEFAULT_SEED : s.equals("random") ? System.nanoTime() : Seeds.parse(s);
        cases = Integer.getInteger("symbiont.objdump.cases", 60_000);
        dir = Files.createTempDirectory("symbiont-objdump");
        System.out.printf("ObjdumpLengthTest: %d cases per mode, -Dsymbiont.objdump.seed=0x%x%n", cases, seed);
    }

    @AfterAll
    static void tearDown() throws IOException {
        if (dir == null) return;
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) Files.deleteIfExists(p);
        }
        Files.deleteIfExists(dir);
    }

    // ---------------------------------------------------------------------------------------
    // Registered instructions, back to back
    // ---------------------------------------------------------------------------------------

    @ParameterizedTest(name = "mode {0}")
    @ValueSource(ints = {Decoder.CODE64, Decoder.CODE32, Decoder.CODE16})
    void acceptedInstructionsHaveObjdumpLengths(int mode) {
        OpcodeTable table = Families.TABLE;
        InsnGenerator gen = new InsnGenerator(seed * 31 + mode);
        Insn insn = new Insn();
        Report report = new Report(mode, table);
        Batch batch = new Batch();
        Slots rejected = new Slots();
        int tooLong = 0, rejectedCount = 0;
        for (int c = 0; c < cases; c++) {
            byte[] cand = gen.next(mode);
            int len = Decoder.decode(table, mode, rip -> cand[(int) rip] & 0xFF, 0, insn);
            if (insn.op == Decoder.OP_TOO_LONG) {
                tooLong++;
            } else if (insn.op == Decoder.OP_UD) {
                rejectedCount++;
                if (rejected.insns.size() < MAX_REJECTED_SAMPLES) rejected.add(cand, cand.length, insn.op, insn.opcode, c);
            } else {
                byte[] bytes = objdumpForm(table, mode, cand, len, insn, report, c);
                if (bytes == null) continue;
                batch.add(bytes, insn.op, insn.opcode, c);
                if (insn.opcode == 0x9B) {
                    // A NOP after each FWAIT: binutils scans FWAIT as a prefix and, before a long
                    // run of prefixes, splits the following instruction at its 15-byte limit,
                    // dropping prefixes (67, say) that change the instruction's length.
                    Insn nop = new Insn();
                    Decoder.decode(table, mode, rip -> 0x90, 0, nop);
                    batch.add(bytes(0x90), nop.op, nop.opcode, c);
                }
                if (batch.size() == BATCH) {
                    compareBackToBack(batch, mode, report);
                    batch = new Batch();
                }
            }
        }
        if (batch.size() > 0) compareBackToBack(batch, mode, report);
        printCoverage(mode, rejected, rejectedCount, report.compared, tooLong);

        report.assertClean();
        assertTrue(report.compared > cases / 20,
                "only " + report.compared + " of " + cases + " candidates decoded: the generator or the table is broken");
    }

    /**
     * The comparison itself: the known differences are recognised, and a wrong boundary is not
     * mistaken for one of them.
     */
    @ParameterizedTest(name = "mode {0}")
    @ValueSource(ints = {Decoder.CODE64, Decoder.CODE32})
    void comparisonRecognisesKnownDifferencesOnly(int mode) {
        Batch batch = new Batch();
        batch.add(bytes(0x9B), 0, 0x9B, 0);                              // FWAIT ...
        batch.add(bytes(0xDD, 0x38), 0, 0xDD, 1);                         // ... FNSTSW [eax]: objdump's one "fstsw"
        batch.add(bytes(0x66, 0x9B), 0, 0x9B, 2);                        // FWAIT with a prefix ...
        batch.add(bytes(0xD9, 0x38), 0, 0xD9, 3);                         // ... FNSTCW: "data16 fstcw"
        batch.add(bytes(0x9B), 0, 0x9B, 4);                              // FWAIT on its own: "fwait"
        byte[] nop = new byte[15];
        Arrays.fill(nop, 0, 14, (byte) 0x66);
        nop[14] = (byte) 0x90;
        batch.add(nop, 0, 0x90, 5);                                      // 14 prefixes on a line, then "nop"
        batch.add(bytes(0xB8, 1, 2, 3, 4), 0, 0xB8, 6);
        batch.add(bytes(0x9B), 0, 0x9B, 7);                              // FWAIT, then 14 prefixes: objdump prints
        batch.add(nop, 0, 0x90, 8);                                      // 9B and 12 of them as one line
        Report report = new Report(mode, Families.TABLE);
        compareBackToBack(batch, mode, report);
        report.assertClean();
        assertEquals(9, report.compared);

        // Wrong boundaries: each instruction not matching objdump's lines is reported once.
        Batch wrong = new Batch();
        wrong.add(bytes(0x9B), 0, 0x9B, 0);                              // FWAIT before a broken FNSTSW
        wrong.add(bytes(0xDD), 0, 0xDD, 1);                               // a length short by one
        wrong.add(bytes(0x38, 0x90), 0, 0x38, 2);                         // the rest of it, with a byte too many
        wrong.add(bytes(0x66, 0x66), 0, 0x66, 3);                         // prefixes without their instruction
        wrong.add(bytes(0x90), 0, 0x90, 4);                               // fine again
        wrong.add(bytes(0xB8, 1, 2, 3, 4, 5), 0, 0xB8, 5);                // one byte too many
        Report expectFailures = new Report(mode, Families.TABLE);
        compareBackToBack(wrong, mode, expectFailures);
        assertEquals(1, expectFailures.compared, String.join("\n", expectFailures.messages));
        assertEquals(5, expectFailures.mismatches, String.join("\n", expectFailures.messages));
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) values[i];
        return b;
    }

    /** Compares a batch of our instructions, written back to back, with objdump's listing. */
    private static void compareBackToBack(Batch batch, int mode, Report report) {
        Path file = batch.write("batch");
        List<Accepted> insns = batch.insns;
        int k = 0;
        while (k < insns.size() && report.mismatches < MAX_MISMATCHES) {
            List<Objdump.Line> lines = Objdump.disassemble(file, mode, insns.get(k).offset);
            int j = 0;
            while (k < insns.size()) {
                Accepted a = insns.get(k);
                Match m = match(lines, j, a, mode);
                if (m.ok()) {
                    report.compared++;
                    j = m.nextLine;
                    k++;
                    continue;
                }
                Match pair = a.opcode == 0x9B && k + 1 < insns.size() ? matchFwaitPair(lines, j, a, insns.get(k + 1), mode) : null;
                if (pair != null && pair.ok()) {
                    report.compared += 2;
                    j = pair.nextLine;
                    k += 2;
                    continue;
                }
                report.mismatch(batch.bytes, a, lines, m);
                k++;
                break;   // restart objdump at our next instruction
            }
        }
    }

    /**
     * FWAIT (9B) and the instruction after it, for objdump one unit (see the class comment):
     * binutils scans FWAIT as a prefix, so that it can print FWAIT and a following FNSTSW/FNSTCW/
     * FNSTENV/FNSAVE/FNCLEX/FNINIT as the FSTSW/... macro; it folds FWAIT into any x87
     * instruction after it (D8..DF: "9B D8 C0" prints as one "fadd"), and, when a long run of
     * prefixes follows, prints the FWAIT within a line of prefixes. Matches when the lines from
     * the FWAIT cover both instructions exactly and the FWAIT is either in a line of prefixes or
     * in the line of the x87 instruction after it.
     */
    private static Match matchFwaitPair(List<Objdump.Line> lines, int firstLine, Accepted fwait, Accepted next, int mode) {
        long end = next.offset + next.length;
        if (next.offset != fwait.offset + fwait.length) return new Match(false, false, firstLine, fwait.offset);
        long fwaitByte = fwait.offset + fwait.length - 1;   // after any prefixes of the FWAIT
        long pos = fwait.offset;
        int j = firstLine;
        while (j < lines.size() && lines.get(j).address() == pos) {
            Objdump.Line l = lines.get(j++);
            if (l.bad()) return new Match(false, true, j, pos);
            boolean holdsFwait = l.address() <= fwaitByte && fwaitByte < l.address() + l.length();
            pos += l.length();
            if (pos == end) {
                boolean folded = next.opcode >= 0xD8 && next.opcode <= 0xDF;
                return new Match(!holdsFwait || folded, false, j, pos);
            }
            boolean prefixes = holdsFwait
                    ? pos > fwaitByte + 1 && Objdump.prefixesOnly(l, fwaitByte, mode)
                    : Objdump.prefixesOnly(l, -1, mode);
            if (pos > end || !prefixes) return new Match(false, false, j, pos);
        }
        return new Match(false, false, j, pos);
    }

    // ---------------------------------------------------------------------------------------
    // Every opcode of every map, one slot each
    // ---------------------------------------------------------------------------------------

    @ParameterizedTest(name = "mode {0}")
    @ValueSource(ints = {Decoder.CODE64, Decoder.CODE32, Decoder.CODE16})
    void opcodeShapesMatchObjdump(int mode) {
        OpcodeTable table = everyOpcode();
        InsnGenerator gen = new InsnGenerator(seed * 37 + mode);
        Insn insn = new Insn();
        Slots slots = new Slots();
        Report report = new Report(mode, table);
        for (int map = 0; map < 4; map++) {
            for (int opcode = 0; opcode < 256; opcode++) {
                for (int v = 0; v < SHAPE_VARIANTS; v++) {
                    byte[] cand = gen.build(mode, map, opcode, MANDATORY_PREFIXES[v % MANDATORY_PREFIXES.length]);
                    int len = Decoder.decode(table, mode, rip -> cand[(int) rip] & 0xFF, 0, insn);
                    if (insn.op != Decoder.OP_UD && insn.op != Decoder.OP_TOO_LONG) {
                        byte[] bytes = objdumpForm(table, mode, cand, len, insn, report, v);
                        if (bytes != null) slots.add(bytes, bytes.length, insn.op, insn.opcode, v);
                    }
                }
            }
        }
        List<Objdump.Line> lines = Objdump.disassemble(slots.write("shapes"), mode, 0);
        Map<Long, Integer> lineAt = indexByAddress(lines);
        int unknownToObjdump = 0;
        int[] opcodesPerMap = new int[4];
        TreeSet<Integer> comparedOpcodes = new TreeSet<>();
        byte[] file = slots.bytes.toByteArray();
        for (Accepted a : slots.insns) {
            Integer j = lineAt.get(a.offset);
            Match m = j == null ? new Match(false, false, 0, a.offset) : match(lines, j, a, mode);
            if (m.ok()) {
                report.compared++;
                if (comparedOpcodes.add(a.opcode)) opcodesPerMap[a.opcode >>> 8]++;
            } else if (m.bad) {
                unknownToObjdump++;   // objdump knows no instruction with this opcode and these prefixes
            } else {
                report.mismatch(file, a, lines, m);
            }
        }
        System.out.printf("%s shapes: %d encodings compared (opcodes: %d one-byte, %d 0F, %d 0F38, %d 0F3A), "
                        + "%d unknown to objdump%n", Objdump.modeName(mode), report.compared,
                opcodesPerMap[0], opcodesPerMap[1], opcodesPerMap[2], opcodesPerMap[3], unknownToObjdump);
        report.assertClean();
        assertTrue(report.compared > slots.insns.size() / 4, "objdump decoded too few encodings: " + report.compared);
    }

    /**
     * A table where every opcode with a shape means something (one operation per opcode, all
     * prefixes, ModRM.reg values and forms), so that lengths are tested for the whole map. Group
     * 1A (8F) is POP only (/0); the other /reg values are AMD's XOP escape, which objdump decodes
     * as XOP (SDM Vol. 2D, Table A-6).
     */
    private static OpcodeTable everyOpcode() {
        OpcodeTable t = new OpcodeTable();
        t.define(Decoder.OP_UD, "(bad)", OpcodeTable.F_END);
        t.define(Decoder.OP_TOO_LONG, "(too long)", OpcodeTable.F_END);
        String[] maps = {"", "0f ", "0f 38 ", "0f 3a "};
        for (int map = 0; map < 4; map++) {
            for (int opcode = 0; opcode < 256; opcode++) {
                int shape = OpcodeShape.shape(map, opcode);
                if ((shape & (OpcodeShape.PREFIX | OpcodeShape.ESCAPE | OpcodeShape.UNDEFINED)) != 0) continue;
                int op = 0x100 + (map << 8 | opcode);
                t.define(op, String.format("%s%02x", maps[map], opcode), OpcodeTable.F_LOCKABLE);
                if (map == OpcodeShape.MAP_1 && opcode == 0x8F) t.at(map, opcode).reg(0).is(op);
                else t.at(map, opcode).is(op);
            }
        }
        return t;
    }

    // ---------------------------------------------------------------------------------------
    // Matching one instruction against objdump's lines
    // ---------------------------------------------------------------------------------------

    /**
     * Outcome of matching our instruction [offset, offset + length) with the lines from index
     * {@code firstLine}: {@code end} is where objdump's last examined line ends.
     */
    private record Match(boolean ok, boolean bad, int nextLine, long end) {}

    private static Match match(List<Objdump.Line> lines, int firstLine, Accepted a, int mode) {
        long end = a.offset + a.length;
        long pos = a.offset;
        int j = firstLine;
        while (j < lines.size() && lines.get(j).address() == pos) {
            Objdump.Line l = lines.get(j++);
            if (l.bad()) return new Match(false, true, j, pos);
            pos += l.length();
            if (pos == end) return new Match(true, false, j, pos);
            if (pos > end || !l.prefixesOnly(mode)) return new Match(false, false, j, pos);
        }
        return new Match(false, false, j, pos);
    }

    /**
     * The bytes objdump is shown for an instruction we accepted, where objdump is known to read
     * an encoding differently from the processor we model; the decoder must decode them to the
     * same instruction (an opcode rewrite aside) and length (less any bytes dropped). Returns
     * null after reporting a difference. The rewrites:
     * <ul>
     *   <li>A REX byte that does not immediately precede the opcode is ignored (SDM Vol. 2A,
     *       2.2.1), and the legacy prefixes around it keep their effect (checked on the host:
     *       66 40 26 B8 iw loads AX). objdump instead prints everything up to such a REX as a line
     *       of its own and decodes the rest afresh, forgetting the prefixes before it. Such REX
     *       bytes are dropped.
     *   <li>objdump decodes 0F 1A and 0F 1B as MPX instructions and stops with "(bad)" in the
     *       middle of the forms MPX does not allow (16-bit addressing, bound registers 4..15...).
     *       MPX is not advertised, and without it the processor executes all of 0F 1A and 0F 1B
     *       as NOP Ev, the reserved-NOP space 0F 18..0F 1F (SDM Vol. 2D, Table A-3; Vol. 1,
     *       17.3: MPX instructions behave as NOPs when MPX is not enabled). They are shown as
     *       0F 1F, the same shape.
     *   <li>binutils scans FWAIT (9B) as a prefix of the next instruction and applies the
     *       prefixes before it to that instruction ("67 9B D9 64 4D" prints as one FLDENV with
     *       16-bit addressing), whereas FWAIT is an instruction of its own and its prefixes
     *       have no effect on it or on the next one (SDM Vol. 2A, WAIT/FWAIT). FWAIT is shown
     *       without its prefixes.
     *   <li>binutils rejects a few encodings that the processor executes, ignoring a prefix or
     *       ModRM bits (each checked on the host, an AMD Zen 4, by executing it): 66/F2/F3/REX on
     *       INVD and WBINVD (0F 08/09: #GP at CPL 3, not #UD, so the encoding is valid), F2 on
     *       BSF/BSR/TZCNT/LZCNT (0F BC/BD; with F2 after F3 the F3 is ignored too), and REX or ModRM.rm other than 0 on LFENCE/MFENCE/SFENCE (0F AE
     *       /5-/7 with mod 3). Those are shown without the ignored prefix, with rm 0; the decoder
     *       must decode that form to the same operation.
     * </ul>
     */
    private static byte[] objdumpForm(OpcodeTable table, int mode, byte[] cand, int len, Insn insn,
                                      Report report, int caseIndex) {
        byte[] canonical = withoutIgnoredBits(mode, cand, len, insn);
        if (canonical != null) {
            Insn again = new Insn();
            Decoder.decode(table, mode, rip -> rip < canonical.length ? canonical[(int) rip] & 0xFF : 0x90, 0, again);
            if (again.op == insn.op && again.length == canonical.length) return canonical;
            report.failure(String.format("%s case %d: %s -> %s, length %d; without the ignored bits %s: %s, length %d",
                    Objdump.modeName(mode), caseIndex, Objdump.hex(cand, 0, len), table.name(insn.op), len,
                    Objdump.hex(canonical, 0, canonical.length), table.name(again.op), again.length));
            return null;
        }
        if (insn.opcode == 0x9B && len > 1) {
            Insn bare = new Insn();
            Decoder.decode(table, mode, rip -> 0x9B, 0, bare);
            if (bare.op == insn.op && bare.length == 1) return new byte[] {(byte) 0x9B};
            report.failure(String.format("%s case %d: %s -> %s, length %d; without its prefixes: %s, length %d",
                    Objdump.modeName(mode), caseIndex, Objdump.hex(cand, 0, len), table.name(insn.op), len,
                    table.name(bare.op), bare.length));
            return null;
        }
        ByteArrayOutputStream kept = new ByteArrayOutputStream();
        int i = 0;
        for (; i < len && Objdump.isPrefixByte(cand[i] & 0xFF, mode); i++) {
            boolean rex = mode == Decoder.CODE64 && (cand[i] & 0xF0) == 0x40;
            boolean misplaced = rex && i + 1 < len && Objdump.isPrefixByte(cand[i + 1] & 0xFF, mode);
            if (!misplaced) kept.write(cand[i]);
        }
        int opcodeAt = kept.size();
        kept.write(cand, i, len - i);
        byte[] bytes = kept.toByteArray();
        boolean mpx = insn.opcode == 0x11A || insn.opcode == 0x11B;
        if (mpx) bytes[opcodeAt + 1] = 0x1F;
        int removed = len - bytes.length;
        if (removed == 0 && !mpx) return bytes;

        byte[] window = Arrays.copyOf(bytes, InsnGenerator.WINDOW);
        Insn again = new Insn();
        // Decoded "removed" bytes further on, so that RIP-relative and branch targets coincide.
        Decoder.decode(table, mode, rip -> window[(int) (rip - removed)] & 0xFF, removed, again);
        String difference = DecoderAssertions.difference(insn, again, mpx);
        if (again.length == bytes.length && difference == null) return bytes;
        report.failure(String.format("%s case %d: %s -> %s, length %d; rewritten for objdump as %s: %s, length %d%s",
                Objdump.modeName(mode), caseIndex, Objdump.hex(cand, 0, len), table.name(insn.op), len,
                Objdump.hex(bytes, 0, bytes.length), table.name(again.op), again.length,
                difference == null ? "" : " (" + difference + ")"));
        return null;
    }

    /**
     * The canonical form of an instruction whose ignored prefixes or ModRM bits objdump rejects
     * (see {@link #objdumpForm}), or null when none apply.
     */
    private static byte[] withoutIgnoredBits(int mode, byte[] cand, int len, Insn insn) {
        int opcode = insn.opcode;
        boolean cacheControl = opcode == 0x108 || opcode == 0x109;
        boolean bitScanWithF2 = (opcode == 0x1BC || opcode == 0x1BD) && insn.hasPrefix(Insn.P_REPNE);
        boolean fence = opcode == 0x1AE && (insn.modrm >>> 6) == 3 && (insn.modrm >>> 3 & 7) >= 5;
        if (!cacheControl && !bitScanWithF2 && !(fence && ((insn.modrm & 7) != 0 || insn.hasPrefix(Insn.P_REX)))) {
            return null;
        }
        // For BSF/BSR the last of F2/F3 decides: F2 last, both are ignored (plain BSF/BSR); F3
        // last, it selects TZCNT/LZCNT and only F2 is ignored.
        int lastRep = 0;
        for (int k = 0; k < len && Objdump.isPrefixByte(cand[k] & 0xFF, mode); k++) {
            if ((cand[k] & 0xFF) == 0xF2 || (cand[k] & 0xFF) == 0xF3) lastRep = cand[k] & 0xFF;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        for (; i < len && Objdump.isPrefixByte(cand[i] & 0xFF, mode); i++) {
            int b = cand[i] & 0xFF;
            boolean rex = mode == Decoder.CODE64 && (b & 0xF0) == 0x40;
            boolean drop = cacheControl ? (b == 0x66 || b == 0xF2 || b == 0xF3 || rex)
                    : bitScanWithF2 ? b == 0xF2 || (b == 0xF3 && lastRep == 0xF2)
                    : rex;
            if (!drop) out.write(b);
        }
        int opcodeAt = out.size();
        out.write(cand, i, len - i);
        byte[] bytes = out.toByteArray();
        if (fence) bytes[opcodeAt + 2] = (byte) (insn.modrm & 0xF8);
        return bytes;
    }

    private static Map<Long, Integer> indexByAddress(List<Objdump.Line> lines) {
        Map<Long, Integer> m = new HashMap<>();
        for (int j = 0; j < lines.size(); j++) m.put(lines.get(j).address(), j);
        return m;
    }

    // ---------------------------------------------------------------------------------------
    // Coverage: what objdump decodes that we reject
    // ---------------------------------------------------------------------------------------

    private static void printCoverage(int mode, Slots rejected, int rejectedCount, int compared, int tooLong) {
        List<Objdump.Line> lines = Objdump.disassemble(rejected.write("rejected"), mode, 0);
        Map<Long, Integer> lineAt = indexByAddress(lines);
        Map<Integer, Integer> count = new HashMap<>();
        Map<Integer, TreeSet<String>> mnemonics = new HashMap<>();
        int decodedByObjdump = 0;
        for (Accepted a : rejected.insns) {
            Integer j = lineAt.get(a.offset);
            if (j == null) continue;
            while (j + 1 < lines.size() && lines.get(j).prefixesOnly(mode)) j++;
            Objdump.Line l = lines.get(j);
            if (l.bad() || l.text().isEmpty()) continue;
            decodedByObjdump++;
            count.merge(a.opcode, 1, Integer::sum);
            TreeSet<String> names = mnemonics.computeIfAbsent(a.opcode, o -> new TreeSet<>());
            if (names.size() < 4) names.add(l.mnemonic());
        }
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%s coverage: %d instructions compared; %d candidates rejected as #UD (%d sampled), "
                        + "of which objdump decodes %d; %d over-long (#GP)%n",
                Objdump.modeName(mode), compared, rejectedCount, rejected.insns.size(), decodedByObjdump, tooLong));
        List<Map.Entry<Integer, Integer>> top = new ArrayList<>(count.entrySet());
        top.sort(Map.Entry.<Integer, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()));
        int shown = 0;
        for (Map.Entry<Integer, Integer> e : top) {
            if (shown++ == 20) {
                sb.append(String.format("  ... and %d more opcodes%n", top.size() - 20));
                break;
            }
            sb.append(String.format("  %-9s %6d  %s%n", opcodeName(e.getKey()), e.getValue(), String.join(" ", mnemonics.get(e.getKey()))));
        }
        System.out.print(sb);
    }

    static String opcodeName(int mapAndOpcode) {
        int map = mapAndOpcode >>> 8, opcode = mapAndOpcode & 0xFF;
        return switch (map) {
            case OpcodeShape.MAP_1 -> String.format("%02x", opcode);
            case OpcodeShape.MAP_0F -> String.format("0f %02x", opcode);
            case OpcodeShape.MAP_0F38 -> String.format("0f 38 %02x", opcode);
            default -> String.format("0f 3a %02x", opcode);
        };
    }

    // ---------------------------------------------------------------------------------------
    // Bookkeeping
    // ---------------------------------------------------------------------------------------

    /** One instruction we accepted (or one rejected candidate) at {@code offset} in a file. */
    private record Accepted(long offset, int length, int op, int opcode, int caseIndex) {}

    /** Accepted instructions written back to back. */
    private static final class Batch {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final List<Accepted> insns = new ArrayList<>();
        byte[] bytes;

        void add(byte[] insnBytes, int op, int opcode, int caseIndex) {
            insns.add(new Accepted(out.size(), insnBytes.length, op, opcode, caseIndex));
            out.write(insnBytes, 0, insnBytes.length);
        }

        int size() {
            return insns.size();
        }

        Path write(String name) {
            bytes = out.toByteArray();
            return ObjdumpLengthTest.write(name, bytes);
        }
    }

    /** Candidates each followed by NOPs, so that objdump starts afresh at every one. */
    private static final class Slots {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final List<Accepted> insns = new ArrayList<>();

        void add(byte[] cand, int len, int op, int opcode, int caseIndex) {
            insns.add(new Accepted(bytes.size(), len, op, opcode, caseIndex));
            bytes.write(cand, 0, len);
            for (int i = 0; i < SLOT_PADDING; i++) bytes.write(0x90);
        }

        Path write(String name) {
            return ObjdumpLengthTest.write(name, bytes.toByteArray());
        }
    }

    private static Path write(String name, byte[] bytes) {
        try {
            Path file = dir.resolve(name + ".bin");
            Files.write(file, bytes);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Collects mismatches with everything needed to understand and replay them. */
    private static final class Report {
        final int mode;
        final OpcodeTable table;
        final List<String> messages = new ArrayList<>();
        int compared, mismatches;

        Report(int mode, OpcodeTable table) {
            this.mode = mode;
            this.table = table;
        }

        void failure(String message) {
            mismatches++;
            if (messages.size() < MAX_REPORTED) messages.add(message);
        }

        void mismatch(byte[] file, Accepted a, List<Objdump.Line> lines, Match m) {
            mismatches++;
            if (messages.size() >= MAX_REPORTED) return;
            StringBuilder sb = new StringBuilder();
            sb.append(String.format("%s case %d: %s -> we decode %s, length %d; objdump %s:",
                    Objdump.modeName(mode), a.caseIndex,
                    Objdump.hex(file, (int) a.offset, (int) (a.offset + a.length)),
                    table.name(a.op), a.length,
                    m.bad ? "says (bad)" : "has a different boundary"));
            int shown = 0;
            for (Objdump.Line l : lines) {
                if (l.address() + l.length() > a.offset && l.address() < Math.max(m.end, a.offset + a.length) + 1) {
                    sb.append("\n      ").append(String.format("%x", l.address() - a.offset)).append(": ")
                            .append(l.hex()).append("\t").append(l.text());
                    if (++shown == 4) break;
                }
            }
            messages.add(sb.toString());
        }

        void assertClean() {
            if (mismatches == 0) return;
            fail(String.format("%d of %d instructions disagree with objdump in %s (replay with -Dsymbiont.objdump.seed=0x%x"
                            + " -Dsymbiont.objdump.cases=%d); first ones, objdump lines relative to our instruction:%n  %s",
                    mismatches, compared + mismatches, Objdump.modeName(mode), seed, cases, String.join("\n  ", messages)));
        }
    }
}
