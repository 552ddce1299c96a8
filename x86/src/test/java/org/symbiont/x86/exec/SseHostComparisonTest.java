package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/**
 * Compares the SSE floating-point instructions bit for bit with the host processor: every
 * arithmetic, compare and conversion instruction runs on random and special inputs (zeros,
 * infinities, QNaN/SNaN with payloads, denormals, extreme normals, values at rounding ties and
 * near integer limits) under random MXCSR settings (all rounding modes, FTZ, DAZ, masked and
 * unmasked exceptions, preset sticky flags). The host side is a C program compiled with gcc at
 * test time that executes the very same instruction text with inline assembly and catches #XM
 * (SIGFPE) to record the state at the fault; the emulator side runs the same text, assembled with
 * GNU as, one instruction per run. Destination register, RAX, the status flags, MXCSR and
 * whether #XM was raised must all be identical.
 *
 * <p>RCPPS/RCPSS/RSQRTPS/RSQRTSS are approximations whose low bits differ between processor
 * vendors (and from the emulator's correctly rounded result); they are checked only against the
 * architectural error bound, with special values compared exactly.
 */
class SseHostComparisonTest {

    private static final int PER_INSTRUCTION = Integer.getInteger("symbiont.ssehost.cases", 3000);
    private static final int STATUS = 0x8D5;

    private enum Src { SINGLE, DOUBLE, INT32, GPR32, GPR64, RANDOM }

    private record Case(String asm, Src src, boolean approximate) {}

    private static List<Case> cases() {
        List<Case> l = new ArrayList<>();
        String[] ops = {"add", "sub", "mul", "div", "min", "max", "sqrt"};
        for (String op : ops) {
            l.add(new Case(op + "ps %xmm1, %xmm0", Src.SINGLE, false));
            l.add(new Case(op + "ss %xmm1, %xmm0", Src.SINGLE, false));
            l.add(new Case(op + "pd %xmm1, %xmm0", Src.DOUBLE, false));
            l.add(new Case(op + "sd %xmm1, %xmm0", Src.DOUBLE, false));
        }
        for (int p = 0; p < 8; p++) {
            l.add(new Case("cmpps $" + p + ", %xmm1, %xmm0", Src.SINGLE, false));
            l.add(new Case("cmpss $" + p + ", %xmm1, %xmm0", Src.SINGLE, false));
            l.add(new Case("cmppd $" + p + ", %xmm1, %xmm0", Src.DOUBLE, false));
            l.add(new Case("cmpsd $" + p + ", %xmm1, %xmm0", Src.DOUBLE, false));
        }
        l.add(new Case("cmpps $0xd9, %xmm1, %xmm0", Src.SINGLE, false)); // legacy SSE uses imm8[2:0]
        l.add(new Case("comiss %xmm1, %xmm0", Src.SINGLE, false));
        l.add(new Case("ucomiss %xmm1, %xmm0", Src.SINGLE, false));
        l.add(new Case("comisd %xmm1, %xmm0", Src.DOUBLE, false));
        l.add(new Case("ucomisd %xmm1, %xmm0", Src.DOUBLE, false));
        l.add(new Case("cvtsi2ssl %eax, %xmm0", Src.GPR32, false));
        l.add(new Case("cvtsi2ssq %rax, %xmm0", Src.GPR64, false));
        l.add(new Case("cvtsi2sdl %eax, %xmm0", Src.GPR32, false));
        l.add(new Case("cvtsi2sdq %rax, %xmm0", Src.GPR64, false));
        for (String t : new String[] {"", "t"}) {
            l.add(new Case("cvt" + t + "ss2si %xmm1, %eax", Src.SINGLE, false));
            l.add(new Case("cvt" + t + "ss2si %xmm1, %rax", Src.SINGLE, false));
            l.add(new Case("cvt" + t + "sd2si %xmm1, %eax", Src.DOUBLE, false));
            l.add(new Case("cvt" + t + "sd2si %xmm1, %rax", Src.DOUBLE, false));
        }
        l.add(new Case("cvtps2pd %xmm1, %xmm0", Src.SINGLE, false));
        l.add(new Case("cvtpd2ps %xmm1, %xmm0", Src.DOUBLE, false));
        l.add(new Case("cvtss2sd %xmm1, %xmm0", Src.SINGLE, false));
        l.add(new Case("cvtsd2ss %xmm1, %xmm0", Src.DOUBLE, false));
        l.add(new Case("cvtdq2ps %xmm1, %xmm0", Src.INT32, false));
        l.add(new Case("cvtps2dq %xmm1, %xmm0", Src.SINGLE, false));
        l.add(new Case("cvttps2dq %xmm1, %xmm0", Src.SINGLE, false));
        l.add(new Case("cvtpd2dq %xmm1, %xmm0", Src.DOUBLE, false));
        l.add(new Case("cvttpd2dq %xmm1, %xmm0", Src.DOUBLE, false));
        l.add(new Case("cvtdq2pd %xmm1, %xmm0", Src.INT32, false));
        l.add(new Case("rcpps %xmm1, %xmm0", Src.SINGLE, true));
        l.add(new Case("rcpss %xmm1, %xmm0", Src.SINGLE, true));
        l.add(new Case("rsqrtps %xmm1, %xmm0", Src.SINGLE, true));
        l.add(new Case("rsqrtss %xmm1, %xmm0", Src.SINGLE, true));
        return l;
    }

    /** One input: MXCSR, initial status flags, RAX, XMM0 and XMM1. */
    private record Input(int mxcsr, int status, long rax, long a0, long a1, long b0, long b1) {}

    /** One observed outcome. */
    private record Outcome(int mxcsr, boolean faulted, long rax, long status, long x0, long x1) {}

    @Test
    void floatingPointMatchesHostBitForBit() throws Exception {
        compareWithHost(cases(), 0x5EE_F00DL);
    }

    /** Integer SIMD, shuffles, moves and logic: random register contents, no MXCSR involvement. */
    @Test
    void integerAndMoveInstructionsMatchHost() throws Exception {
        List<Case> l = new ArrayList<>();
        for (String op : new String[] {"paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq", "paddsb", "paddsw",
            "paddusb", "paddusw", "psubsb", "psubsw", "psubusb", "psubusw", "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmaddwd",
            "pavgb", "pavgw", "pminub", "pmaxub", "pminsw", "pmaxsw", "psadbw", "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpgtb",
            "pcmpgtw", "pcmpgtd", "psrlw", "psrld", "psrlq", "psraw", "psrad", "psllw", "pslld", "psllq", "packsswb", "packssdw",
            "packuswb", "punpcklbw", "punpcklwd", "punpckldq", "punpcklqdq", "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq",
            "pand", "pandn", "por", "pxor", "andps", "andnps", "orps", "xorps", "andpd", "andnpd", "orpd", "xorpd",
            "unpcklps", "unpckhps", "unpcklpd", "unpckhpd", "movss", "movsd", "movhlps", "movlhps", "movq", "movaps", "movdqu"}) {
            l.add(new Case(op + " %xmm1, %xmm0", Src.RANDOM, false));
        }
        for (String op : new String[] {"psrlw", "psrld", "psrlq", "psraw", "psrad", "psllw", "pslld", "psllq", "psrldq", "pslldq"}) {
            for (int n : new int[] {0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 200}) l.add(new Case(op + " $" + n + ", %xmm0", Src.RANDOM, false));
        }
        for (int imm : new int[] {0x00, 0x1B, 0xE4, 0x4E, 0xB1, 0xFF, 0x93}) {
            l.add(new Case("pshufd $" + imm + ", %xmm1, %xmm0", Src.RANDOM, false));
            l.add(new Case("pshufhw $" + imm + ", %xmm1, %xmm0", Src.RANDOM, false));
            l.add(new Case("pshuflw $" + imm + ", %xmm1, %xmm0", Src.RANDOM, false));
            l.add(new Case("shufps $" + imm + ", %xmm1, %xmm0", Src.RANDOM, false));
            l.add(new Case("shufpd $" + (imm & 3) + ", %xmm1, %xmm0", Src.RANDOM, false));
        }
        for (int k = 0; k < 8; k++) {
            l.add(new Case("pinsrw $" + k + ", %eax, %xmm0", Src.RANDOM, false));
            l.add(new Case("pextrw $" + k + ", %xmm1, %eax", Src.RANDOM, false));
        }
        for (String op : new String[] {"movd %eax, %xmm0", "movq %rax, %xmm0", "movd %xmm1, %eax", "movq %xmm1, %rax",
            "pmovmskb %xmm1, %eax", "movmskps %xmm1, %eax", "movmskpd %xmm1, %eax", "movmskps %xmm1, %rax"}) {
            l.add(new Case(op, Src.RANDOM, false));
        }
        compareWithHost(l, 0x1_2345_6789L);
    }

    private static void compareWithHost(List<Case> cases, long seed) throws Exception {
        Assumptions.assumeTrue(gccAvailable(), "gcc not installed: SSE host comparison skipped");
        Asm.assumeAvailable();
        Random rnd = new Random(seed);
        List<List<Input>> inputs = new ArrayList<>();
        for (Case c : cases) {
            List<Input> in = new ArrayList<>(PER_INSTRUCTION);
            for (int k = 0; k < PER_INSTRUCTION; k++) in.add(input(rnd, c.src()));
            inputs.add(in);
        }
        List<List<Outcome>> host = runOnHost(cases, inputs);

        StringBuilder slots = new StringBuilder();
        for (Case c : cases) slots.append(".balign 16\n").append(c.asm()).append("\nhlt\n");
        byte[] code = Asm.assemble(slots.toString(), 64, TestMachine.CODE);

        Map<String, Integer> mismatches = new LinkedHashMap<>();
        StringBuilder detail = new StringBuilder();
        int shown = 0;
        long compared = 0;
        try (TestMachine m = TestMachine.longMode()) {
            m.load(code);
            for (int k = 0; k < cases.size(); k++) {
                Case c = cases.get(k);
                for (int n = 0; n < PER_INSTRUCTION; n++) {
                    Input in = inputs.get(k).get(n);
                    Outcome want = host.get(k).get(n);
                    Outcome got = runOnEmulator(m, TestMachine.CODE + 16L * k, in);
                    compared++;
                    if (!matches(c, want, got)) {
                        mismatches.merge(c.asm(), 1, Integer::sum);
                        if (shown++ < 25) {
                            detail.append(String.format("%s%n  in   mxcsr=%04x xmm0=%016x_%016x xmm1=%016x_%016x rax=%016x%n"
                                    + "  host %s%n  emu  %s%n", c.asm(), in.mxcsr(), in.a1(), in.a0(), in.b1(), in.b0(), in.rax(),
                                    describe(want), describe(got)));
                        }
                    }
                }
            }
        }
        assertEquals((long) cases.size() * PER_INSTRUCTION, compared);
        assertTrue(mismatches.isEmpty(), "mismatches per instruction " + mismatches + "\n" + detail);
    }

    private static String describe(Outcome o) {
        return String.format("%s mxcsr=%04x xmm0=%016x_%016x rax=%016x flags=%03x", o.faulted() ? "#XM" : "ok ",
                o.mxcsr(), o.x1(), o.x0(), o.rax(), o.status());
    }

    private static boolean matches(Case c, Outcome want, Outcome got) {
        if (want.faulted() != got.faulted() || want.mxcsr() != got.mxcsr() || want.status() != got.status()) return false;
        if (c.approximate()) {
            return withinApproximationBound(want.x0(), got.x0()) && withinApproximationBound(want.x1(), got.x1());
        }
        if (want.x0() != got.x0() || want.x1() != got.x1()) return false;
        return want.faulted() || want.rax() == got.rax();
    }

    /** Both singles of each half agree exactly on specials and within 2 * 1.5 * 2^-12 relative otherwise. */
    private static boolean withinApproximationBound(long want, long got) {
        for (int s = 0; s < 64; s += 32) {
            float w = Float.intBitsToFloat((int) (want >>> s)), g = Float.intBitsToFloat((int) (got >>> s));
            if ((int) (want >>> s) == (int) (got >>> s)) continue;
            if (Float.isNaN(w) || Float.isNaN(g) || Float.isInfinite(w) || Float.isInfinite(g)) return false;
            // Results at the edge of the normal range may be flushed to zero by one side only.
            if ((w == 0 || g == 0) && Math.abs(w + g) < 0x1p-125f) continue;
            if (Math.abs(w - g) > 3 * 0x1p-12 * Math.abs(w)) return false;
        }
        return true;
    }

    // ---- the emulator side ----

    private static Outcome runOnEmulator(TestMachine m, long rip, Input in) {
        var c = m.cpu;
        c.xmm[0] = in.a0();
        c.xmm[1] = in.a1();
        c.xmm[2] = in.b0();
        c.xmm[3] = in.b1();
        c.gpr[RAX] = in.rax();
        c.gpr[RSP] = TestMachine.STACK_TOP;
        c.mxcsr = in.mxcsr();
        c.setRflags(RFLAGS_FIXED1 | in.status());
        c.rip = rip;
        c.halted = false;
        int reports = m.reports.size();
        Exit e = m.run(100);
        assertEquals(Exit.HALT, e, "emulator did not halt");
        boolean faulted = m.reports.size() > reports;
        if (faulted) assertEquals(EXC_XM, m.reports.get(m.reports.size() - 1).intValue(), "unexpected exception vector");
        return new Outcome(c.mxcsr, faulted, c.gpr[RAX], c.getRflags() & STATUS, c.xmm[0], c.xmm[1]);
    }

    // ---- the host side ----

    private static final String HARNESS_HEAD = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stdlib.h>
        #include <stdint.h>
        #include <string.h>
        #include <signal.h>
        #include <setjmp.h>
        #include <ucontext.h>
        struct in_rec { uint32_t idx, mxcsr; uint64_t status, rax; uint8_t a[16], b[16]; };
        struct out_rec { uint32_t mxcsr, faulted; uint64_t rax, rflags, pad; uint8_t x0[16]; };
        static const uint32_t defmx = 0x1f80;
        static sigjmp_buf jb;
        static struct out_rec *cur;
        static void onfpe(int sig, siginfo_t *si, void *p) {
          ucontext_t *uc = p;
          cur->faulted = 1;
          cur->mxcsr = uc->uc_mcontext.fpregs->mxcsr;
          memcpy(cur->x0, &uc->uc_mcontext.fpregs->_xmm[0], 16);
          cur->rax = uc->uc_mcontext.gregs[REG_RAX];
          cur->rflags = uc->uc_mcontext.gregs[REG_EFL];
          siglongjmp(jb, 1);
        }
        #define T(n, insn) static void t##n(const struct in_rec *i, struct out_rec *o) { \\
          asm volatile("ldmxcsr 4(%[i])\\n\\tmovdqu 24(%[i]), %%xmm0\\n\\tmovdqu 40(%[i]), %%xmm1\\n\\t" \\
            "mov 16(%[i]), %%rax\\n\\tpushq 8(%[i])\\n\\tpopfq\\n\\t" insn "\\n\\t" \\
            "pushfq\\n\\tpopq 16(%[o])\\n\\tmovdqu %%xmm0, 32(%[o])\\n\\tmov %%rax, 8(%[o])\\n\\t" \\
            "stmxcsr 0(%[o])\\n\\tldmxcsr %[def]\\n\\t" \\
            : : [i] "r"(i), [o] "r"(o), [def] "m"(defmx) : "rax", "xmm0", "xmm1", "memory", "cc"); }
        """;

    private static final String HARNESS_MAIN = """
        int main(int argc, char **argv) {
          struct sigaction sa; memset(&sa, 0, sizeof sa);
          sa.sa_sigaction = onfpe; sa.sa_flags = SA_SIGINFO | SA_NODEFER;
          sigaction(SIGFPE, &sa, 0);
          FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
          if (!in || !out) return 2;
          struct in_rec r;
          while (fread(&r, sizeof r, 1, in) == 1) {
            struct out_rec o; memset(&o, 0, sizeof o); cur = &o;
            if (!sigsetjmp(jb, 1)) tests[r.idx](&r, &o);
            fwrite(&o, sizeof o, 1, out);
          }
          fclose(out);
          return 0;
        }
        """;

    private static List<List<Outcome>> runOnHost(List<Case> cases, List<List<Input>> inputs) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("symbiont-ssehost");
        try {
            StringBuilder c = new StringBuilder(HARNESS_HEAD);
            for (int k = 0; k < cases.size(); k++) c.append("T(").append(k).append(", \"").append(cases.get(k).asm().replace("%", "%%")).append("\")\n");
            c.append("typedef void (*test_fn)(const struct in_rec *, struct out_rec *);\nstatic const test_fn tests[] = {");
            for (int k = 0; k < cases.size(); k++) c.append(k == 0 ? "" : ", ").append("t").append(k);
            c.append("};\n").append(HARNESS_MAIN);
            Path src = dir.resolve("harness.c"), exe = dir.resolve("harness"), in = dir.resolve("in.bin"), out = dir.resolve("out.bin");
            Files.writeString(src, c);
            run(List.of("gcc", "-O1", "-mno-red-zone", "-o", exe.toString(), src.toString()), dir);

            int total = cases.size() * PER_INSTRUCTION;
            ByteBuffer b = ByteBuffer.allocate(total * 56).order(ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < cases.size(); k++) {
                for (Input x : inputs.get(k)) {
                    b.putInt(k).putInt(x.mxcsr()).putLong(x.status() | 2).putLong(x.rax());
                    b.putLong(x.a0()).putLong(x.a1()).putLong(x.b0()).putLong(x.b1());
                }
            }
            Files.write(in, b.array());
            run(List.of(exe.toString(), in.toString(), out.toString()), dir);
            ByteBuffer r = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(total * 48, r.capacity(), "host harness output size");
            List<List<Outcome>> result = new ArrayList<>();
            for (int k = 0; k < cases.size(); k++) {
                List<Outcome> l = new ArrayList<>(PER_INSTRUCTION);
                for (int n = 0; n < PER_INSTRUCTION; n++) {
                    int mx = r.getInt();
                    boolean faulted = r.getInt() != 0;
                    long rax = r.getLong(), flags = r.getLong();
                    r.getLong();
                    long x0 = r.getLong(), x1 = r.getLong();
                    l.add(new Outcome(mx, faulted, rax, flags & STATUS, x0, x1));
                }
                result.add(l);
            }
            return result;
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) Files.deleteIfExists(p);
            }
            Files.deleteIfExists(dir);
        }
    }

    private static boolean gccAvailable() {
        try {
            run(List.of("gcc", "--version"), null);
            return true;
        } catch (IOException | IllegalStateException | InterruptedException e) {
            System.err.println("SKIPPED: gcc not found; the SSE host comparison does not run");
            return false;
        }
    }

    private static void run(List<String> cmd, Path dir) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (dir != null) pb.directory(dir.toFile());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed:\n" + out);
        }
    }

    // ---- input generation ----

    private static Input input(Random r, Src src) {
        int mx = r.nextInt(4) << Sse.RC_SHIFT;
        if (r.nextBoolean()) mx |= Sse.FTZ;
        if (r.nextBoolean()) mx |= Sse.DAZ;
        int masks = 0x3F;
        if (r.nextInt(4) == 0) masks &= r.nextInt(64) | r.nextInt(64); // unmask about a quarter of them
        mx |= masks << Sse.MASK_SHIFT;
        if (r.nextInt(3) == 0) mx |= r.nextInt(64); // sticky flags already set
        int status = r.nextInt(1 << 12) & STATUS;
        long rax = r.nextLong();
        long a0, a1, b0, b1;
        switch (src) {
            case SINGLE -> {
                int x0 = single(r), x1 = single(r), x2 = single(r), x3 = single(r);
                a0 = pack(x0, x1);
                a1 = pack(x2, x3);
                b0 = pack(related(r, x0), related(r, x1));
                b1 = pack(related(r, x2), related(r, x3));
            }
            case DOUBLE -> {
                a0 = dbl(r);
                a1 = dbl(r);
                b0 = related(r, a0);
                b1 = related(r, a1);
            }
            case INT32 -> {
                a0 = r.nextLong();
                a1 = r.nextLong();
                b0 = pack((int) integer(r), (int) integer(r));
                b1 = pack((int) integer(r), (int) integer(r));
            }
            case RANDOM -> {
                a0 = r.nextLong();
                a1 = r.nextLong();
                b0 = r.nextInt(4) == 0 ? r.nextInt(80) : r.nextInt(3) == 0 ? pack(r.nextInt(3) - 1, r.nextInt(3) - 1) : r.nextLong();
                b1 = r.nextInt(4) == 0 ? a1 : r.nextLong();
                if (r.nextInt(4) == 0) b0 = a0 ^ (1L << r.nextInt(64));
            }
            default -> {
                a0 = pack(single(r), single(r));
                a1 = r.nextLong();
                b0 = r.nextLong();
                b1 = r.nextLong();
                rax = integer(r);
            }
        }
        return new Input(mx, status, rax, a0, a1, b0, b1);
    }

    private static long pack(int lo, int hi) {
        return (lo & 0xFFFF_FFFFL) | (long) hi << 32;
    }

    private static final int[] SPECIAL32 = {
        0, 0x8000_0000, 1, 0x8000_0001, 0x007F_FFFF, 0x807F_FFFF, 0x0040_0000, 0x0080_0000, 0x8080_0000,
        0x0080_0001, 0x7F7F_FFFF, 0xFF7F_FFFF, 0x7F80_0000, 0xFF80_0000, 0x3F80_0000, 0xBF80_0000,
        0x7FC0_0000, 0xFFC0_0000, 0x7FC0_1234, 0xFFE0_0001, 0x7F80_0001, 0xFF80_0001, 0x7FA0_5A5A, 0xFFBF_FFFF,
        0x4F00_0000, 0xCF00_0000, 0x4EFF_FFFF, 0xCF00_0001, 0x5F00_0000, 0xDF00_0000, 0x5EFF_FFFF, 0xDF00_0001,
        0x3F00_0000, 0xBF00_0000, 0x3FC0_0000, 0xBFC0_0000, 0x4020_0000, 0xC020_0000, 0x4B00_0000, 0x4B80_0000,
        0x3F7F_FFFF, 0x3F80_0001, 0x7E80_0000, 0x7E7F_FFFF, 0x0000_0010, 0x8000_0010, 0x0100_0000, 0x3400_0000,
    };

    private static final long[] SPECIAL64 = {
        0, 0x8000_0000_0000_0000L, 1, 0x8000_0000_0000_0001L, 0x000F_FFFF_FFFF_FFFFL, 0x800F_FFFF_FFFF_FFFFL,
        0x0008_0000_0000_0000L, 0x0010_0000_0000_0000L, 0x8010_0000_0000_0000L, 0x0010_0000_0000_0001L,
        0x7FEF_FFFF_FFFF_FFFFL, 0xFFEF_FFFF_FFFF_FFFFL, 0x7FF0_0000_0000_0000L, 0xFFF0_0000_0000_0000L,
        0x3FF0_0000_0000_0000L, 0xBFF0_0000_0000_0000L, 0x7FF8_0000_0000_0000L, 0xFFF8_0000_0000_0000L,
        0x7FF8_0000_1234_5678L, 0xFFFC_0000_0000_0001L, 0x7FF0_0000_0000_0001L, 0xFFF0_0000_0000_0001L,
        0x7FF4_5A5A_5A5A_5A5AL, 0xFFF7_FFFF_FFFF_FFFFL,
        Double.doubleToRawLongBits(2147483647.5), Double.doubleToRawLongBits(2147483648.0),
        Double.doubleToRawLongBits(-2147483648.5), Double.doubleToRawLongBits(-2147483649.0),
        Double.doubleToRawLongBits(2147483647.0), Double.doubleToRawLongBits(-2147483648.0),
        Double.doubleToRawLongBits(0x1p63), Double.doubleToRawLongBits(Math.nextDown(0x1p63)),
        Double.doubleToRawLongBits(-0x1p63), Double.doubleToRawLongBits(Math.nextDown(-0x1p63)),
        Double.doubleToRawLongBits(0.5), Double.doubleToRawLongBits(-0.5), Double.doubleToRawLongBits(1.5),
        Double.doubleToRawLongBits(-2.5), Double.doubleToRawLongBits(0x1p52 + 0.5),
        Double.doubleToRawLongBits(Float.MAX_VALUE), Double.doubleToRawLongBits(Math.nextUp((double) Float.MAX_VALUE)),
        Double.doubleToRawLongBits(0x1.ffffffp127), Double.doubleToRawLongBits(0x1p-126), Double.doubleToRawLongBits(0x1p-149),
        Double.doubleToRawLongBits(0x1p-150), Double.doubleToRawLongBits(0x1.000001p-150), Double.doubleToRawLongBits(0x1.fffffep-127),
        Double.doubleToRawLongBits(Math.nextDown(0x1p-126)), Double.doubleToRawLongBits(0x1.fffffe8p-127),
    };

    private static final int[] BUCKETS32 = {0, 1, 4, 60, 64, 68, 96, 124, 127, 130, 150, 157, 158, 159, 189, 190, 191, 192, 220, 251, 254};
    private static final int[] BUCKETS64 = {0, 1, 4, 500, 511, 540, 700, 896, 1023, 1030, 1053, 1054, 1055, 1085, 1086, 1087,
        1150, 1280, 1535, 1540, 2000, 2046};

    private static int single(Random r) {
        return switch (r.nextInt(8)) {
            case 0, 1 -> SPECIAL32[r.nextInt(SPECIAL32.length)];
            case 2 -> r.nextInt();
            default -> {
                int e = Math.clamp(BUCKETS32[r.nextInt(BUCKETS32.length)] + r.nextInt(7) - 3, 0, 254);
                yield (r.nextBoolean() ? 0x8000_0000 : 0) | e << 23 | (int) mantissa(r, 23);
            }
        };
    }

    private static long dbl(Random r) {
        return switch (r.nextInt(8)) {
            case 0, 1 -> SPECIAL64[r.nextInt(SPECIAL64.length)];
            case 2 -> r.nextLong();
            case 3 -> Double.doubleToRawLongBits(Float.intBitsToFloat(single(r))); // singles in binary64 clothing
            default -> {
                long e = Math.clamp(BUCKETS64[r.nextInt(BUCKETS64.length)] + r.nextInt(7) - 3, 0, 2046);
                yield (r.nextBoolean() ? Long.MIN_VALUE : 0) | e << 52 | mantissa(r, 52);
            }
        };
    }

    private static long mantissa(Random r, int bits) {
        long all = (1L << bits) - 1;
        return switch (r.nextInt(5)) {
            case 0 -> all;
            case 1 -> r.nextLong() & all & ~((1L << (bits - 4)) - 1); // a few top bits only: exact results
            case 2 -> r.nextInt(16);
            default -> r.nextLong() & all;
        };
    }

    /** The second operand: often close to the first (cancellation, ties, equal values), else independent. */
    private static int related(Random r, int a) {
        return switch (r.nextInt(6)) {
            case 0 -> a;
            case 1 -> a ^ 0x8000_0000;
            case 2 -> (a + r.nextInt(9) - 4) ^ (r.nextBoolean() ? 0x8000_0000 : 0);
            default -> single(r);
        };
    }

    private static long related(Random r, long a) {
        return switch (r.nextInt(6)) {
            case 0 -> a;
            case 1 -> a ^ Long.MIN_VALUE;
            case 2 -> (a + r.nextInt(9) - 4) ^ (r.nextBoolean() ? Long.MIN_VALUE : 0);
            default -> dbl(r);
        };
    }

    private static long integer(Random r) {
        return switch (r.nextInt(6)) {
            case 0 -> new long[] {0, 1, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, Long.MAX_VALUE, Long.MIN_VALUE,
                (1L << 24) + 1, -(1L << 24) - 3, (1L << 53) + 1, (1L << 53) - 1, (1L << 62) + 1, 0x7FFF_FFFF_FFFF_FE00L,
                0x7FFF_FFC0_0000_0000L, 0x7FFF_FF80_0000_0001L}[r.nextInt(15)];
            case 1 -> r.nextInt();
            case 2 -> r.nextLong() >> r.nextInt(64);
            case 3 -> (r.nextLong() >> r.nextInt(64)) | 1;
            default -> r.nextLong();
        };
    }
}
