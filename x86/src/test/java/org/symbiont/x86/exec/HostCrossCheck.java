package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.symbiont.x86.Asm;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/**
 * Runs the same instructions with the same inputs on the emulator and on the host CPU and
 * compares the results. Each instruction (Intel syntax) becomes a routine that loads RAX, RBX,
 * RCX, RDX, RSI and the status flags from a state record addressed by RDI, executes the
 * instruction, and stores them back; the record also holds 32 bytes of memory at [rdi+48] for
 * memory operands. The identical assembly runs in the emulator (assembled with GNU as) and on the
 * host (linked with a small C driver by gcc). Skipped, with a visible message, without gcc.
 */
final class HostCrossCheck {
    /** Words of a state record: rax, rbx, rcx, rdx, rsi, flags, then four words of memory. */
    static final int RAX_W = 0, RBX_W = 1, RCX_W = 2, RDX_W = 3, RSI_W = 4, FLAGS_W = 5, MEM_W = 6, WORDS = 10;
    private static final int RECORD_BYTES = 8 * (WORDS + 1);
    private static final long RECORDS = 0x20_0000;

    /** One execution: which instruction, and the input state. */
    record Case(int insn, long[] state) {}

    private final List<String> insns = new ArrayList<>();
    private final List<Long> flagMasks = new ArrayList<>();
    private final List<Case> cases = new ArrayList<>();

    /** Adds an instruction whose status flags in {@code flagMask} must agree; returns its number. */
    int instruction(String text, long flagMask) {
        insns.add(text);
        flagMasks.add(flagMask);
        return insns.size() - 1;
    }

    void add(int insn, long[] state) {
        long[] s = state.clone();
        s[FLAGS_W] = (s[FLAGS_W] & STATUS_FLAGS) | RFLAGS_FIXED1;
        cases.add(new Case(insn, s));
    }

    /** The input state of case {@code k}, in the order of {@link #add}. */
    long[] input(int k) {
        return cases.get(k).state();
    }

    /** Random state: register values biased toward edge cases, random status flags. */
    static long[] randomState(SplittableRandom rnd) {
        long[] s = new long[WORDS];
        for (int k = 0; k < WORDS; k++) s[k] = interesting(rnd);
        s[FLAGS_W] = rnd.nextLong();
        return s;
    }

    static long interesting(SplittableRandom rnd) {
        return switch (rnd.nextInt(12)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> Long.MIN_VALUE >>> (rnd.nextInt(57)); // a single top bit at 8/16/32/64...
            case 3 -> rnd.nextLong() >>> rnd.nextInt(64);
            case 4 -> rnd.nextLong() >> rnd.nextInt(64);
            case 5 -> 1L << rnd.nextInt(64);
            case 6 -> rnd.nextInt(256);
            case 7 -> rnd.nextLong() & rnd.nextLong() & rnd.nextLong();
            default -> rnd.nextLong();
        };
    }

    private String assembly() {
        StringBuilder s = new StringBuilder(".intel_syntax noprefix\n.text\n");
        // Entry for the emulator: RDI = records, RSI = count.
        s.append("    call run_all\n    hlt\n");
        s.append(".globl run_all\nrun_all:\n    push rbx\n    push r12\n    push r13\n    push r14\n");
        s.append("    mov r12, rdi\n    mov r13, rsi\n    lea r14, [rip + case_table]\n");
        s.append("1:  test r13, r13\n    jz 2f\n    mov rax, [r12]\n    lea rdi, [r12 + 8]\n");
        s.append("    call qword ptr [r14 + rax * 8]\n    add r12, ").append(RECORD_BYTES).append("\n    dec r13\n    jmp 1b\n");
        s.append("2:  pop r14\n    pop r13\n    pop r12\n    pop rbx\n    ret\n");
        s.append("case_table:\n");
        for (int k = 0; k < insns.size(); k++) s.append("    .quad case_").append(k).append('\n');
        for (int k = 0; k < insns.size(); k++) {
            s.append("case_").append(k).append(":\n");
            s.append("    push qword ptr [rdi + 40]\n    popfq\n");
            s.append("    mov rax, [rdi]\n    mov rbx, [rdi + 8]\n    mov rcx, [rdi + 16]\n    mov rdx, [rdi + 24]\n    mov rsi, [rdi + 32]\n");
            s.append("    ").append(insns.get(k)).append('\n');
            s.append("    pushfq\n    pop qword ptr [rdi + 40]\n");
            s.append("    mov [rdi], rax\n    mov [rdi + 8], rbx\n    mov [rdi + 16], rcx\n    mov [rdi + 24], rdx\n    mov [rdi + 32], rsi\n");
            s.append("    ret\n");
        }
        return s.toString();
    }

    private byte[] records() {
        ByteBuffer b = ByteBuffer.allocate(cases.size() * RECORD_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (Case c : cases) {
            b.putLong(c.insn());
            for (long w : c.state()) b.putLong(w);
        }
        return b.array();
    }

    private static long[][] parse(byte[] bytes, int n) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long[][] out = new long[n][WORDS];
        for (int k = 0; k < n; k++) {
            b.getLong();
            for (int w = 0; w < WORDS; w++) out[k][w] = b.getLong();
        }
        return out;
    }

    long[][] runEmulator() {
        byte[] code = Asm.assemble(assembly(), 64, TestMachine.CODE);
        try (TestMachine m = TestMachine.longMode()) {
            m.load(code);
            m.memory.write(RECORDS, records());
            m.cpu.gpr[RDI] = RECORDS;
            m.cpu.gpr[RSI] = cases.size();
            assertEquals(Exit.HALT, m.run(100L * cases.size() + 1000));
            assertEquals(List.of(), m.reports, "exceptions in the emulator");
            byte[] out = new byte[cases.size() * RECORD_BYTES];
            m.memory.read(RECORDS, out, 0, out.length);
            return parse(out, cases.size());
        }
    }

    private static Boolean gccAvailable;

    static synchronized boolean gccAvailable() {
        if (gccAvailable == null) {
            try {
                Process p = new ProcessBuilder("gcc", "--version").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                gccAvailable = p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
            } catch (IOException e) {
                gccAvailable = false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                gccAvailable = false;
            }
            if (!gccAvailable) System.err.println("SKIPPED: gcc not found; host CPU cross-checks do not run");
        }
        return gccAvailable;
    }

    private static final String DRIVER = """
        #include <stdio.h>
        #include <stdlib.h>
        extern void run_all(void *records, long count);
        int main(int argc, char **argv) {
            long count = atol(argv[2]);
            long bytes = count * %d;
            char *buf = malloc(bytes);
            FILE *f = fopen(argv[1], "rb");
            if (!f || fread(buf, 1, bytes, f) != (size_t) bytes) return 2;
            fclose(f);
            run_all(buf, count);
            f = fopen(argv[1], "wb");
            if (!f || fwrite(buf, 1, bytes, f) != (size_t) bytes) return 3;
            fclose(f);
            return 0;
        }
        """;

    long[][] runHost() {
        Assumptions.assumeTrue(gccAvailable(), "gcc not installed: host CPU cross-check skipped");
        try {
            Path dir = Files.createTempDirectory("symbiont-host");
            try {
                Files.writeString(dir.resolve("cases.s"), assembly() + "\n.section .note.GNU-stack,\"\",@progbits\n");
                Files.writeString(dir.resolve("driver.c"), DRIVER.formatted(RECORD_BYTES));
                Files.write(dir.resolve("records.bin"), records());
                exec(dir, "gcc", "-O1", "-no-pie", "-o", "check", "driver.c", "cases.s");
                exec(dir, dir.resolve("check").toString(), "records.bin", Integer.toString(cases.size()));
                return parse(Files.readAllBytes(dir.resolve("records.bin")), cases.size());
            } finally {
                try (var files = Files.list(dir)) {
                    for (Path p : files.toList()) Files.deleteIfExists(p);
                }
                Files.deleteIfExists(dir);
            }
        } catch (IOException e) {
            throw new IllegalStateException("host cross-check failed: " + e.getMessage(), e);
        }
    }

    private static void exec(Path dir, String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                fail(String.join(" ", cmd) + " failed:\n" + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Runs every case on both sides and asserts that registers, memory and the masked flags agree. */
    void assertSameAsHost() {
        long[][] host = runHost();
        long[][] emu = runEmulator();
        List<String> mismatches = new ArrayList<>();
        for (int k = 0; k < cases.size(); k++) {
            Case c = cases.get(k);
            long mask = flagMasks.get(c.insn());
            for (int w = 0; w < WORDS; w++) {
                long h = host[k][w], e = emu[k][w];
                if (w == FLAGS_W) {
                    h &= mask;
                    e &= mask;
                }
                if (h != e) {
                    mismatches.add(String.format("%s with %s: word %d host %x emulator %x", insns.get(c.insn()),
                            describe(c.state()), w, h, e));
                    break;
                }
            }
        }
        assertTrue(mismatches.isEmpty(), mismatches.size() + " of " + cases.size() + " cases differ, first:\n"
                + String.join("\n", mismatches.subList(0, Math.min(20, mismatches.size()))));
    }

    private static String describe(long[] s) {
        return String.format("rax=%x rbx=%x rcx=%x rdx=%x rsi=%x flags=%x mem=%x,%x,%x,%x", s[0], s[1], s[2], s[3], s[4],
                s[5], s[6], s[7], s[8], s[9]);
    }
}
