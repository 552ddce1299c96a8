package org.symbiont.x86.difftest;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Generates random test cases from a seed: an initial state (registers with "interesting"
 * values, flags, MXCSR, XMM registers, a data image) and a sequence of one to eight instruction
 * templates drawn mostly from one family.
 *
 * <p>Two registers are pinned for the whole case: {@link #pointer} holds an address inside the
 * data region and {@link #index} a small value, so memory operands built on them reach known
 * addresses. RSP points into the data region too and is changed only by stack instructions.
 *
 * <p>The generator tracks, statically and conservatively, which status flags may be
 * architecturally undefined at each point (joining the states of forward branches); an
 * instruction that reads such a flag is preceded by a CMP that defines all six, so undefined
 * flags never leak into compared results. Registers whose value may be undefined (BSF/BSR
 * with a zero source) are blocked from any later use.
 */
final class Generator {
    // Status flags, as RFLAGS bits.
    static final int CF = 1, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, OF = 1 << 11;
    static final int STATUS = CF | PF | AF | ZF | SF | OF;
    static final int DF = 1 << 10;

    static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    /** Generates the instructions of one family into the current case; false if not applicable here. */
    interface Template {
        boolean emit(Generator g);
    }

    private static final Map<Family, Template> TEMPLATES = new EnumMap<>(Family.class);

    static {
        IntegerTemplates.register(TEMPLATES);
        ControlTemplates.register(TEMPLATES);
        SseTemplates.register(TEMPLATES);
        for (Family f : Family.values()) {
            if (!TEMPLATES.containsKey(f)) throw new IllegalStateException("no templates for family " + f.id());
        }
    }

    private final long seed;
    private final List<Family> allowed;

    // ---- state of the case being generated ----
    SplittableRandom rnd;
    Code code;
    private List<Step> steps;
    private int undefined;
    private boolean singleStep;
    private Family current;
    /** Initial register values. */
    long[] gpr;
    /** The pinned registers: an address inside the data region, and a small index. */
    int pointer, index;
    private int pinnedMask, blockedMask, noWriteMask;
    /** Inside a loop or subroutine body: straight-line code, no flag reads, balanced stack. */
    boolean inBody;
    private List<Integer> patchOffsets;
    private List<Long> patchValues;
    private List<List<Code.Label>> pendingLabels;
    private int templateIndex;

    Generator(long seed, List<Family> allowed) {
        this.seed = seed;
        this.allowed = List.copyOf(allowed);
        if (this.allowed.isEmpty()) throw new IllegalArgumentException("no families to generate");
    }

    static long caseSeed(long seed, long caseIndex, int attempt) {
        long[] s = {seed ^ caseIndex * 0xD134_2543_DE82_EF95L ^ (long) attempt << 56};
        Layout.splitmix64(s);
        return Layout.splitmix64(s);
    }

    TestCase generate(long caseIndex) {
        for (int attempt = 0; ; attempt++) {
            rnd = new SplittableRandom(caseSeed(seed, caseIndex, attempt));
            try {
                return attempt(caseIndex);
            } catch (Code.Unencodable e) {
                if (attempt > 1000) throw new IllegalStateException("cannot generate case " + caseIndex + ": " + e.getMessage());
            }
        }
    }

    private TestCase attempt(long caseIndex) {
        Family primary = allowed.get(rnd.nextInt(allowed.size()));
        code = new Code();
        steps = new ArrayList<>();
        undefined = 0;
        singleStep = false;
        inBody = false;
        blockedMask = noWriteMask = 0;
        patchOffsets = new ArrayList<>();
        patchValues = new ArrayList<>();

        gpr = new long[16];
        for (int r = 0; r < 16; r++) gpr[r] = value64();
        int[] pinCandidates = {RBX, 8, 9, 10, 11, 12, 13, 14, 15}; // no implicit destinations
        pointer = pinCandidates[rnd.nextInt(pinCandidates.length)];
        do index = pinCandidates[rnd.nextInt(pinCandidates.length)]; while (index == pointer);
        pinnedMask = 1 << pointer | 1 << index;
        long pointerOffset = 0x100 + rnd.nextInt(0xE00);
        if (rnd.nextInt(4) != 0) pointerOffset &= ~0xFL;
        gpr[pointer] = Layout.DATA + pointerOffset;
        gpr[index] = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(0x80);
        long sp = 0xA00 + rnd.nextInt(0x400);
        gpr[RSP] = Layout.DATA + (rnd.nextInt(8) == 0 ? sp & ~3L : sp & ~7L);

        long flags = 0x202 | (rnd.nextLong() & STATUS);
        if (rnd.nextInt(5) == 0) flags |= DF;
        if (rnd.nextInt(5) == 0) flags |= 1 << 21; // ID
        long[] xmm = new long[32];
        for (int r = 0; r < 16; r++) Values.xmm(rnd, xmm, r);
        int mxcsr = 0x1F80 | rnd.nextInt(4) << 13 | (rnd.nextInt(4) == 0 ? 0x8000 : 0)
                | (rnd.nextInt(4) == 0 ? 0x40 : 0) | (rnd.nextInt(3) == 0 ? rnd.nextInt(64) : 0);
        long dataSeed = rnd.nextLong();
        int patches = 8 + rnd.nextInt(24);
        for (int k = 0; k < patches; k++) {
            int off = rnd.nextInt(Layout.DATA_SIZE - 8 + 1);
            if (rnd.nextInt(3) != 0) off &= ~7;
            patch(off, rnd.nextBoolean() ? interesting(8) : Values.floatPair(rnd));
        }

        int count = 1 + rnd.nextInt(8);
        pendingLabels = new ArrayList<>();
        for (int t = 0; t <= count; t++) pendingLabels.add(new ArrayList<>());
        for (templateIndex = 0; templateIndex < count; templateIndex++) {
            bindPending(templateIndex);
            Family f = rnd.nextInt(4) != 0 ? primary : allowed.get(rnd.nextInt(allowed.size()));
            if (!emitFrom(f) && !emitFrom(primary)) emitAny();
        }
        bindPending(count);
        byte[] bytes = code.finish();
        if (bytes.length > Layout.MAX_CODE) throw new Code.Unencodable("sequence too long");

        int[] offs = patchOffsets.stream().mapToInt(Integer::intValue).toArray();
        long[] vals = patchValues.stream().mapToLong(Long::longValue).toArray();
        TestCase c = new TestCase(caseIndex, primary, offs, vals, bytes, List.copyOf(steps), undefined, singleStep);
        System.arraycopy(gpr, 0, c.gpr, 0, 16);
        c.rflags = flags;
        System.arraycopy(xmm, 0, c.xmm, 0, 32);
        c.mxcsr = mxcsr;
        c.dataSeed = dataSeed;
        return c;
    }

    private boolean emitFrom(Family f) {
        Family saved = current;
        current = f;
        try {
            for (int tries = 0; tries < 4; tries++) {
                if (TEMPLATES.get(f).emit(this)) return true;
            }
            return false;
        } finally {
            current = saved;
        }
    }

    private void emitAny() {
        for (int tries = 0; tries < 100; tries++) {
            if (emitFrom(allowed.get(rnd.nextInt(allowed.size())))) return;
        }
        // Every allowed family declined (e.g. only control transfers inside a body): a CMP always fits.
        Family saved = current;
        current = Family.ALU;
        defineFlags();
        current = saved;
    }

    /**
     * Emits templates from the allowed families as the body of a loop or subroutine: straight-line
     * code that reads no flags, keeps the stack balanced and does not write {@code reserved}.
     */
    void body(int templates, int reserved) {
        boolean savedBody = inBody;
        int savedNoWrite = noWriteMask;
        Family saved = current;
        inBody = true;
        noWriteMask |= reserved;
        for (int k = 0; k < templates; k++) {
            boolean done = false;
            for (int tries = 0; tries < 20 && !done; tries++) done = emitFrom(allowed.get(rnd.nextInt(allowed.size())));
            if (!done) defineFlags();
        }
        current = saved;
        inBody = savedBody;
        noWriteMask = savedNoWrite;
    }

    // =====================================================================================
    // Emission and flag tracking
    // =====================================================================================

    /** Emits an instruction with its static flag effect (flags read, written, left undefined). */
    void emit(Instruction i, int read, int written, int undefinedNew) {
        emit(i, read, written, undefinedNew, null);
    }

    void emit(Instruction i, int read, int written, int undefinedNew, Step.Dynamic dynamic) {
        if ((read & undefined) != 0) defineFlags();
        if (rnd.nextInt(64) == 0) {
            // Prefixes the processor ignores: segment overrides other than FS/GS, and a REX byte
            // followed by a legacy prefix. They may push an instruction past 15 bytes (#GP).
            int n = rnd.nextInt(1, 3);
            for (int k = 0; k < n; k++) i.ignoredPrefix(new int[] {0x26, 0x2E, 0x36, 0x3E}[rnd.nextInt(4)]);
            if (i.hasLegacyPrefix() && rnd.nextBoolean()) i.ignoredPrefix(0x40 | rnd.nextInt(16));
        }
        int off = i.emit(code);
        steps.add(new Step(off, code.length() - off, current, read, written, undefinedNew, dynamic, undefined));
        undefined = (undefined & ~written) | undefinedNew;
        if (dynamic != null) singleStep = true;
    }

    /** Emits an instruction that neither reads nor writes status flags. */
    void emit(Instruction i) {
        emit(i, 0, 0, 0, null);
    }

    /** CMP of a register with an immediate or another register: defines all six status flags. */
    void defineFlags() {
        int size = rnd.nextBoolean() ? 4 : 8;
        int a = src();
        Instruction i = rnd.nextBoolean()
                ? Instruction.op(0x83).size(size).digit(7).rm(a).imm(interesting(1), 1)
                : Instruction.op(0x39).size(size).reg(src()).rm(a);
        int off = i.emit(code);
        steps.add(new Step(off, code.length() - off, Family.ALU, 0, STATUS, 0, null, undefined));
        undefined = 0;
    }

    /** The instruction emitted last. */
    Step lastStep() {
        return steps.get(steps.size() - 1);
    }

    /** The number of instructions emitted so far in this case. */
    int stepCount() {
        return steps.size();
    }

    /**
     * Closes a backward loop whose body starts at step {@code first}: later iterations enter the
     * body with the flags the previous iteration left, so each body instruction may also see
     * what is undefined at the end of the body.
     */
    void joinLoop(int first) {
        for (int k = first; k < steps.size(); k++) steps.get(k).undefinedBefore |= undefined;
    }

    /** A label for a forward branch that skips {@code skip} more templates after the current one. */
    Code.Label forwardLabel(int skip) {
        Code.Label l = new Code.Label();
        int target = Math.min(templateIndex + 1 + skip, pendingLabels.size() - 1);
        pendingLabels.get(target).add(l);
        return l;
    }

    /** Records the static state at a branch (just emitted) towards a label bound later. */
    void branchTo(Code.Label l) {
        l.undefinedOnArrival |= undefined;
    }

    /** Binds a label inside the current template, joining the states of paths that jump to it. */
    void bind(Code.Label l) {
        code.bind(l);
        undefined |= l.undefinedOnArrival;
    }

    private void bindPending(int t) {
        for (Code.Label l : pendingLabels.get(t)) bind(l);
    }

    /** Marks registers whose value may be architecturally undefined: never used again. */
    void block(int reg) {
        blockedMask |= 1 << reg;
    }

    // =====================================================================================
    // Registers
    // =====================================================================================

    boolean canWrite(int reg) {
        return reg != RSP && ((pinnedMask | blockedMask | noWriteMask) >>> reg & 1) == 0;
    }

    boolean canRead(int reg) {
        return (blockedMask >>> reg & 1) == 0;
    }

    private int pick(int mask) {
        int n = Integer.bitCount(mask);
        if (n == 0) throw new Code.Unencodable("no register available");
        int k = rnd.nextInt(n);
        for (int r = 0; r < 16; r++) {
            if ((mask >>> r & 1) != 0 && k-- == 0) return r;
        }
        throw new AssertionError();
    }

    /** A register that may be written. */
    int dest() {
        return pick(0xFFFF & ~(1 << RSP | pinnedMask | blockedMask | noWriteMask));
    }

    /** A register that may be written, excluding those in {@code exclude}. */
    int dest(int exclude) {
        return pick(0xFFFF & ~(1 << RSP | pinnedMask | blockedMask | noWriteMask | exclude));
    }

    /** A register that may be read (any but blocked ones, RSP rarely). */
    int src() {
        int mask = 0xFFFF & ~blockedMask;
        if (rnd.nextInt(8) != 0) mask &= ~(1 << RSP);
        return pick(mask);
    }

    int src(int exclude) {
        return pick(0xFFFF & ~blockedMask & ~exclude & ~(1 << RSP));
    }

    /** A byte register to write: legacy (AL..BL, AH..BH, no REX) or REX form (AL..R15B but not SPL). */
    int dest8(boolean legacy) {
        return legacy ? legacy8(true) : dest();
    }

    int src8(boolean legacy) {
        return legacy ? legacy8(false) : src();
    }

    private int legacy8(boolean write) {
        for (int tries = 0; tries < 50; tries++) {
            int r = rnd.nextInt(8);
            int full = r & 3;
            int reg = r < 4 ? r : 16 + full;
            if (write ? canWrite(full) : canRead(full)) return reg;
        }
        throw new Code.Unencodable("no legacy byte register available");
    }

    /** The 64-bit register holding byte register {@code r8} (AH..BH are 16..19). */
    static int full(int r8) {
        return r8 >= 16 ? r8 - 16 : r8;
    }

    /** A random operand size among {@code sizes}. */
    int size(int... sizes) {
        return sizes[rnd.nextInt(sizes.length)];
    }

    // =====================================================================================
    // Values
    // =====================================================================================

    /** An "interesting" value for an operand of {@code size} bytes, with random bits above it. */
    long interesting(int size) {
        int bits = 8 * size;
        long v = switch (rnd.nextInt(14)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> -1;
            case 3 -> 1L << (bits - 1);
            case 4 -> (1L << (bits - 1)) - 1;
            case 5 -> 1L << rnd.nextInt(bits);
            case 6 -> (1L << rnd.nextInt(bits)) - 1;
            case 7 -> rnd.nextInt(64);
            case 8 -> -rnd.nextInt(1, 64);
            case 9 -> (1L << (bits - 1)) + rnd.nextInt(-2, 3);
            default -> rnd.nextLong();
        };
        if (size < 8 && rnd.nextBoolean()) {
            long m = -1L >>> (64 - bits);
            v = (v & m) | (rnd.nextLong() & ~m);
        }
        return v;
    }

    /** A 64-bit register value: interesting at a random width, or random. */
    long value64() {
        return rnd.nextInt(4) == 0 ? rnd.nextLong() : interesting(size(1, 2, 4, 8));
    }

    /** A signed immediate of {@code bytes} (1, 2, 4). */
    long imm(int bytes) {
        long v = interesting(bytes);
        int sh = 64 - 8 * bytes;
        return (v << sh) >> sh;
    }

    // =====================================================================================
    // Memory operands
    // =====================================================================================

    /**
     * A memory operand of {@code size} bytes inside the data region, aligned to {@code align}
     * (occasionally misaligned on purpose when {@code align} > 1, and very occasionally reaching
     * outside the region so page faults are compared too). {@code noRex} restricts it to
     * encodings without REX (for AH..BH).
     */
    Mem mem(int size, int align, boolean noRex) {
        return memAt(targetOffset(size, align), size, align, noRex);
    }

    /** A memory operand that never leaves the data region (no deliberate page faults). */
    Mem memInside(int size) {
        return memAt(rnd.nextInt(dataLimit() - size + 1), size, 1, false);
    }

    private Mem memAt(int offset, int size, int align, boolean noRex) {
        long target = Layout.DATA + offset;
        if (Layout.inData(target, size)) maybePatch(offset, size);
        for (int tries = 0; tries < 20; tries++) {
            Mem m = address(target, size, align);
            if (m != null && !(noRex && m.needsRex())) return m;
        }
        return Mem.absolute(target);
    }

    Mem mem(int size, int align) {
        return mem(size, align, false);
    }

    /** Naturally aligned (for locked accesses, which must not split a cache line). */
    Mem memAligned(int size) {
        return memAligned(size, false);
    }

    Mem memAligned(int size, boolean noRex) {
        int offset = rnd.nextInt((dataLimit() - size) / size + 1) * size;
        maybePatch(offset, size);
        for (int tries = 0; tries < 20; tries++) {
            Mem m = address(Layout.DATA + offset, size, size);
            if (m != null && m.base != RSP && !(noRex && m.needsRex())) return m;
        }
        return Mem.absolute(Layout.DATA + offset);
    }

    /** Subroutine bodies write below this offset, away from the stack and the return address on it. */
    private static final int BODY_LIMIT = 0x800;

    /** The end of the part of the data region memory operands may reach here. */
    int dataLimit() {
        return inBody ? BODY_LIMIT : Layout.DATA_SIZE;
    }

    private int targetOffset(int size, int align) {
        int r = rnd.nextInt(200);
        if (r == 0) return -rnd.nextInt(1, size + 1);                       // below the region
        if (r == 1 && !inBody) return Layout.DATA_SIZE - size + rnd.nextInt(1, size + 1); // straddles or leaves the end
        int offset = rnd.nextInt(dataLimit() - size + 1);
        if (align > 1) {
            offset &= -align;
            if (rnd.nextInt(40) == 0) offset = Math.min(offset + rnd.nextInt(1, align), Layout.DATA_SIZE - size);
        } else if (rnd.nextInt(3) != 0) {
            offset &= -Math.min(size, 8);
        }
        return offset;
    }

    private Mem address(long target, int size, int align) {
        long p = gpr[pointer], x = gpr[index];
        switch (rnd.nextInt(16)) {
            case 0, 1, 2, 3, 4 -> {
                Mem m = Mem.base(pointer, target - p);
                m.forceDisp32 = rnd.nextInt(8) == 0;
                return m;
            }
            case 5, 6, 7 -> {
                int scale = rnd.nextInt(4);
                return rnd.nextBoolean() ? Mem.sib(pointer, index, scale, target - p - (x << scale))
                        : Mem.sib(index, pointer, 0, target - p - x);
            }
            case 8 -> {
                int scale = rnd.nextInt(4);
                return Mem.sib(Mem.NONE, index, scale, target - (x << scale));
            }
            case 9 -> {
                return Mem.absolute(target);
            }
            case 10, 11 -> {
                return Mem.ripRelative(target);
            }
            case 12 -> {
                // [RSP + d]: RSP moves with the stack instructions, so the exact target is dynamic.
                if (align > 1 || inBody) return null;
                return Mem.base(RSP, rnd.nextInt(0, 0x80 - size));
            }
            case 13 -> {
                Mem m = Mem.base(pointer, target - p);
                m.addr32 = true;
                return m;
            }
            default -> {
                Mem m = Mem.sib(pointer, index, 0, target - p - x);
                m.addr32 = rnd.nextInt(4) == 0;
                return m;
            }
        }
    }

    private void maybePatch(int offset, int size) {
        if (rnd.nextBoolean()) return;
        int at = Math.min(offset, Layout.DATA_SIZE - 8);
        if (at < 0) return;
        patch(at, size >= 4 && rnd.nextBoolean() ? Values.floatPair(rnd) : interesting(Math.min(size, 8)));
        if (size == 16 && offset + 16 <= Layout.DATA_SIZE) patch(offset + 8, rnd.nextBoolean() ? Values.floatPair(rnd) : interesting(8));
    }

    void patch(int offset, long value) {
        patchOffsets.add(offset);
        patchValues.add(value);
    }

    /** A register or a memory operand for an r/m slot of {@code size} bytes. */
    Operand rm(int size, boolean write) {
        if (rnd.nextInt(5) < 2) return Operand.memory(mem(size, 1));
        return Operand.register(write ? dest() : src());
    }

    /** An r/m operand: a register number (>= 0) or memory. */
    record Operand(int reg, Mem mem) {
        static Operand register(int r) {
            return new Operand(r, null);
        }

        static Operand memory(Mem m) {
            return new Operand(-1, m);
        }

        boolean isMemory() {
            return mem != null;
        }

        Instruction apply(Instruction i) {
            return mem != null ? i.rm(mem) : i.rm(reg);
        }

        Instruction apply8(Instruction i) {
            return mem != null ? i.rm(mem) : i.rm8(reg);
        }
    }
}
