package org.symbiont.x86.difftest;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Runs generated cases on the host (through {@link NativeHarness}) and in the emulator
 * ({@link EmulatorRunner}), compares the final states under the masks of architecturally
 * undefined results, reports mismatches in detail and keeps a summary per family.
 */
final class DifferentialRun {
    /** Flags compared: the status flags, TF, IF, DF, IOPL, NT, AC, VIF, VIP, ID; not RF (set in fault frames). */
    static final long FLAGS_COMPARED = 0x3E_7FD5L;
    private static final int BATCH = 1000;

    record Config(long seed, long first, long cases, List<Family> families, int maxReports) {
        String reproduce(long caseIndex) {
            StringBuilder fams = new StringBuilder();
            for (Family f : families) fams.append(fams.isEmpty() ? "" : ",").append(f.id());
            String famSpec = families.size() == Family.values().length ? "all" : fams.toString();
            return String.format("-Dsymbiont.difftest.seed=%#x -Dsymbiont.difftest.first=%d -Dsymbiont.difftest.cases=1 -Dsymbiont.difftest.families=%s",
                    seed, caseIndex, famSpec);
        }
    }

    static final class FamilyStats {
        long cases, completed, faulted, mismatches, emulatorUd;
        final long[] vectors = new long[33];
    }

    final Config config;
    private final PrintStream out;
    final Map<Family, FamilyStats> stats = new EnumMap<>(Family.class);
    long mismatches;
    private int reported;
    final List<Long> mismatchCases = new ArrayList<>();

    DifferentialRun(Config config, PrintStream out) {
        this.config = config;
        this.out = out;
        for (Family f : config.families) stats.put(f, new FamilyStats());
    }

    void run() throws IOException {
        Generator gen = new Generator(config.seed, config.families);
        long end = config.first + config.cases;
        try (NativeHarness host = NativeHarness.start(); EmulatorRunner emu = new EmulatorRunner()) {
            List<TestCase> current = generate(gen, config.first, end);
            host.submit(current);
            long next = config.first + current.size();
            long progressStep = Math.max(config.cases / 10, 1), nextProgress = config.first + progressStep;
            while (!current.isEmpty()) {
                List<TestCase> following = generate(gen, next, end);
                next += following.size();
                List<MachineState> nativeResults = host.collect(current);
                if (!following.isEmpty()) host.submit(following);
                for (int k = 0; k < current.size(); k++) check(current.get(k), nativeResults.get(k), emu);
                long done = current.get(current.size() - 1).index + 1;
                if (config.cases >= 200_000 && done >= nextProgress) {
                    out.printf("difftest: %d/%d cases, %d mismatches%n", done - config.first, config.cases, mismatches);
                    nextProgress += progressStep;
                }
                current = following;
            }
        }
    }

    private static List<TestCase> generate(Generator gen, long from, long end) {
        List<TestCase> batch = new ArrayList<>(BATCH);
        for (long i = from; i < end && batch.size() < BATCH; i++) batch.add(gen.generate(i));
        return batch;
    }

    private void check(TestCase c, MachineState host, EmulatorRunner emu) {
        MachineState mine = emu.run(c);
        FamilyStats st = stats.get(c.family);
        st.cases++;
        if (host.outcome == MachineState.Outcome.COMPLETED) st.completed++;
        else if (host.outcome == MachineState.Outcome.FAULT) {
            st.faulted++;
            st.vectors[host.vector >= 0 && host.vector < 32 ? host.vector : 32]++;
        }
        int undefined;
        int tainted = 0;
        if (c.singleStep) {
            undefined = emu.undefinedFlags;
            tainted = emu.taintedRegisters;
        } else if (host.outcome == MachineState.Outcome.FAULT) {
            Step s = c.stepAt(host.rip);
            undefined = s != null ? s.undefinedBefore : Generator.STATUS;
        } else {
            undefined = c.finalUndefined;
        }
        int memoryFrom = 0;
        if (host.outcome == MachineState.Outcome.FAULT) {
            Step s = c.stepAt(host.rip);
            if (s != null && s.partialStackStoresOnFault) memoryFrom = (int) Math.max(0, Math.min(Layout.DATA_SIZE, host.gpr[4] - Layout.DATA));
        }
        List<String> diffs = differences(host, mine, undefined, tainted, memoryFrom);
        if (diffs.isEmpty()) return;
        st.mismatches++;
        mismatches++;
        if (mine.outcome == MachineState.Outcome.FAULT && mine.vector == 6 && host.outcome != mine.outcome) st.emulatorUd++;
        if (mismatchCases.size() < 1000) mismatchCases.add(c.index);
        if (reported < config.maxReports) {
            reported++;
            out.print(report(c, host, mine, undefined, tainted, memoryFrom, diffs));
        } else {
            out.printf("MISMATCH seed=%#x case=%d family=%s: %s%n", config.seed, c.index, c.family.id(), diffs.get(0));
        }
    }

    static List<String> differences(MachineState n, MachineState e, int undefinedFlags, int taintedRegisters) {
        return differences(n, e, undefinedFlags, taintedRegisters, 0);
    }

    /** The differences between two final states; bytes of the data region below {@code memoryFrom} are not compared. */
    static List<String> differences(MachineState n, MachineState e, int undefinedFlags, int taintedRegisters, int memoryFrom) {
        List<String> d = new ArrayList<>();
        if (n.outcome != e.outcome || n.vector != e.vector) {
            d.add("outcome: native " + n.outcomeText() + ", emulator " + e.outcomeText());
        } else if (n.outcome == MachineState.Outcome.FAULT && n.vector == 14 && n.faultAddress != e.faultAddress) {
            d.add(String.format("#PF address: native %#x, emulator %#x", n.faultAddress, e.faultAddress));
        }
        if (n.rip != e.rip) d.add(String.format("RIP: native %#x, emulator %#x", n.rip, e.rip));
        for (int r = 0; r < 16; r++) {
            if ((taintedRegisters >>> r & 1) == 0 && n.gpr[r] != e.gpr[r]) {
                d.add(String.format("%s: native %016x, emulator %016x", GPR_NAMES[r], n.gpr[r], e.gpr[r]));
            }
        }
        long mask = FLAGS_COMPARED & ~undefinedFlags;
        if (((n.rflags ^ e.rflags) & mask) != 0) {
            d.add(String.format("RFLAGS: native %s, emulator %s (differ in %s; undefined %s)", flags(n.rflags), flags(e.rflags),
                    flags((n.rflags ^ e.rflags) & mask), flags(undefinedFlags)));
        }
        if (n.mxcsr != e.mxcsr) d.add(String.format("MXCSR: native %08x, emulator %08x", n.mxcsr, e.mxcsr));
        for (int x = 0; x < 16; x++) {
            if (n.xmm[2 * x] != e.xmm[2 * x] || n.xmm[2 * x + 1] != e.xmm[2 * x + 1]) {
                d.add(String.format("XMM%d: native %016x_%016x, emulator %016x_%016x", x,
                        n.xmm[2 * x + 1], n.xmm[2 * x], e.xmm[2 * x + 1], e.xmm[2 * x]));
            }
        }
        int listed = 0;
        for (int q = 0; q < Layout.DATA_SIZE / 8; q++) {
            long ignored = 8 * q >= memoryFrom ? 0 : 8 * q + 8 <= memoryFrom ? -1L : -1L >>> (64 - 8 * (memoryFrom - 8 * q));
            long a = quad(n.data, q) & ~ignored, b = quad(e.data, q) & ~ignored;
            if (a != b) {
                if (listed++ < 8) d.add(String.format("memory %#x: native %016x, emulator %016x", Layout.DATA + 8L * q, a, b));
            }
        }
        if (listed > 8) d.add("memory: " + (listed - 8) + " more quadwords differ");
        return d;
    }

    private static long quad(byte[] b, int q) {
        long v = 0;
        for (int k = 7; k >= 0; k--) v = v << 8 | (b[8 * q + k] & 0xFF);
        return v;
    }

    static final String[] GPR_NAMES = {
        "RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"
    };

    private static final String[] FLAG_NAMES = {
        "CF", "1", "PF", "3", "AF", "5", "ZF", "SF", "TF", "IF", "DF", "OF", "IOPL0", "IOPL1", "NT", "15",
        "RF", "VM", "AC", "VIF", "VIP", "ID",
    };

    static String flags(long f) {
        StringBuilder sb = new StringBuilder(String.format("%#x", f));
        if ((f & 0x3F_FFFF & ~2) != 0) {
            sb.append(" [");
            boolean first = true;
            for (int b = 0; b < FLAG_NAMES.length; b++) {
                if (b == 1 || (f >>> b & 1) == 0) continue;
                sb.append(first ? "" : " ").append(FLAG_NAMES[b]);
                first = false;
            }
            sb.append(']');
        }
        return sb.toString();
    }

    private String report(TestCase c, MachineState n, MachineState e, int undefined, int tainted, int memoryFrom, List<String> diffs) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%n=== MISMATCH seed=%#x case=%d family=%s%n", config.seed, c.index, c.family.id()));
        sb.append("reproduce with: ").append(config.reproduce(c.index)).append('\n');
        sb.append(String.format("code at %#x (%d bytes)%s:%n", c.codeAddress(), c.code.length,
                c.singleStep ? ", emulator single-stepped" : ""));
        sb.append(Disassembler.disassemble(c.code, c.codeAddress()));
        sb.append("initial state:\n");
        appendRegisters(sb, c.gpr, c.rflags, c.mxcsr, c.xmm);
        sb.append(String.format("  data region %#x: seed %#x, %d patches%n", Layout.DATA, c.dataSeed, c.patchOffsets.length));
        sb.append("native: ").append(n.outcomeText()).append(String.format(", RIP %#x%n", n.rip));
        appendRegisters(sb, n.gpr, n.rflags, n.mxcsr, n.xmm);
        sb.append("emulator: ").append(e.outcomeText()).append(String.format(", RIP %#x%n", e.rip));
        appendRegisters(sb, e.gpr, e.rflags, e.mxcsr, e.xmm);
        sb.append(String.format("masked: undefined flags %s, registers %s%s%n", flags(undefined), registerList(tainted),
                memoryFrom > 0 ? String.format(", memory below %#x", Layout.DATA + memoryFrom) : ""));
        sb.append("differences:\n");
        for (String d : diffs) sb.append("  ").append(d).append('\n');
        return sb.toString();
    }

    private static String registerList(int mask) {
        if (mask == 0) return "none";
        StringBuilder sb = new StringBuilder();
        for (int r = 0; r < 16; r++) if ((mask >>> r & 1) != 0) sb.append(sb.isEmpty() ? "" : " ").append(GPR_NAMES[r]);
        return sb.toString();
    }

    private static void appendRegisters(StringBuilder sb, long[] gpr, long rflags, int mxcsr, long[] xmm) {
        for (int r = 0; r < 16; r++) {
            sb.append(String.format("%s%-3s %016x", r % 4 == 0 ? "  " : "  ", GPR_NAMES[r], gpr[r]));
            if (r % 4 == 3) sb.append('\n');
        }
        sb.append(String.format("  RFLAGS %s  MXCSR %08x%n", flags(rflags), mxcsr));
        for (int x = 0; x < 16; x++) {
            sb.append(String.format("  XMM%-2d %016x_%016x", x, xmm[2 * x + 1], xmm[2 * x]));
            if (x % 2 == 1) sb.append('\n');
        }
    }

    /** The per-family summary table. */
    String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%ndifferential test: seed %#x, cases %d..%d%n", config.seed, config.first, config.first + config.cases - 1));
        sb.append(String.format("%-12s %9s %10s %9s %11s %9s  %s%n", "family", "cases", "completed", "faulted", "mismatches", "emu #UD",
                "native faults"));
        long cases = 0, completed = 0, faulted = 0, ud = 0;
        for (Map.Entry<Family, FamilyStats> en : stats.entrySet()) {
            FamilyStats s = en.getValue();
            StringBuilder v = new StringBuilder();
            for (int k = 0; k <= 32; k++) {
                if (s.vectors[k] != 0) v.append(' ').append(k == 32 ? "other" : MachineState.vectorName(k)).append(':').append(s.vectors[k]);
            }
            sb.append(String.format("%-12s %9d %10d %9d %11d %9d %s%n", en.getKey().id(), s.cases, s.completed, s.faulted, s.mismatches,
                    s.emulatorUd, v));
            cases += s.cases;
            completed += s.completed;
            faulted += s.faulted;
            ud += s.emulatorUd;
        }
        sb.append(String.format("%-12s %9d %10d %9d %11d %9d%n", "total", cases, completed, faulted, mismatches, ud));
        if (mismatches > 0) {
            sb.append(String.format("MISMATCHES with seed %#x in cases %s%s%n", config.seed,
                    mismatchCases.subList(0, Math.min(50, mismatchCases.size())), mismatchCases.size() > 50 ? " ..." : ""));
        }
        return sb.toString();
    }
}
