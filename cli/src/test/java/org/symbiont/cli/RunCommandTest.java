package org.symbiont.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.vmm.TestKernels;

/** {@code symbiont run} as a user sees it: output, exit statuses, errors, statistics. */
class RunCommandTest {
    private static final String HELLO = TestKernels.print("msg") + TestKernels.exit(4) + "msg: .asciz \"hello\\n\"\n";

    @Test
    void theGuestsOutputGoesToStandardOutputAndItsExitStatusIsTheProcesses() {
        CommandRun r = CommandRun.of("run", "--debugcon", "stdio", "--kernel", TestKernels.file(HELLO).toString());
        assertEquals(9, r.status(), r.err());
        assertEquals("hello\n", r.out());
        assertTrue(r.err().contains("guest exited with status 9"), r.err());
        assertTrue(r.err().contains("PortOut 7"), r.err());
    }

    @Test
    void serialToAFileAndStatisticsAsJson(@TempDir Path dir) throws Exception {
        Path console = dir.resolve("console.txt"), stats = dir.resolve("stats.json");
        CommandRun r = CommandRun.of("run", "-q", "--kernel", TestKernels.file(HELLO).toString(), "--debugcon", "file:" + console,
                "--stats", stats.toString());
        assertEquals(9, r.status(), r.err());
        assertEquals("", r.out());
        assertEquals("", r.err());
        assertEquals("hello\n", Files.readString(console));
        assertTrue(Files.readString(stats).contains("\"guestStatus\": 9"));
    }

    @Test
    void theSerialPortReadsItsInputFromAFile(@TempDir Path dir) throws Exception {
        Path input = dir.resolve("input.txt");
        Files.writeString(input, "typed ahead\n");
        String echo = """
                1:  mov $0x3fd, %dx
                    in %dx, %al
                    test $1, %al
                    jz 1b
                    mov $0x3f8, %dx
                    in %dx, %al
                    out %al, $0xe9
                    cmp $'\\n', %al
                    jne 1b
                """ + TestKernels.exit(0);
        CommandRun r = CommandRun.of("run", "-q", "--serial-input", input.toString(), "--debugcon", "stdio", "--kernel", TestKernels.file(echo).toString());
        assertEquals(1, r.status(), r.err());
        assertEquals("typed ahead\n", r.out());
    }

    @Test
    void devicesAreGivenAsQemuGivesThem() {
        String viaOtherPort = """
                    mov $0x501, %dx
                    mov $3, %al
                    out %al, %dx
                """;
        CommandRun r = CommandRun.of("run", "-q", "--device", "isa-debug-exit,iobase=0x501,iosize=0x02", "--kernel", TestKernels.file(viaOtherPort).toString());
        assertEquals(7, r.status(), "the machine's isa-debug-exit moved to 0x501: " + r.err());
        String scratch = """
                    mov $0x5a5a1234, %eax
                    out %eax, $0xe0
                    xor %eax, %eax
                    in $0xe0, %eax
                    cmp $0x5a5a1234, %eax
                    jne 1f
                """ + TestKernels.exit(0) + "1:\n" + TestKernels.exit(1);
        r = CommandRun.of("run", "-q", "--device", "pc-testdev", "--kernel", TestKernels.file(scratch).toString());
        assertEquals(1, r.status(), "pc-testdev's scratch register: " + r.err());
        assertError(CommandRun.of("run", "--device", "warp-drive", "--kernel", TestKernels.file(scratch).toString()), "unknown type \"warp-drive\"");
        assertError(CommandRun.of("run", "--device", "pc-testdev,iobase", "--kernel", TestKernels.file(scratch).toString()), "expected KEY=VALUE");
    }

    @Test
    void aTripleFaultEndsWithItsStatusAndARegisterDump() {
        CommandRun r = CommandRun.of("run", "--kernel", TestKernels.file("    lidt zero\n    int3\nzero: .word 0\n .long 0\n").toString());
        assertEquals(RunEnd.TRIPLE_FAULT, r.status());
        assertTrue(r.err().contains("triple fault"), r.err());
        assertTrue(r.err().contains("RIP "), r.err());
        assertTrue(r.err().contains("recent exits"), r.err());
    }

    @Test
    void aGuestHaltedWithInterruptsOffEndsWithItsStatus() {
        CommandRun r = CommandRun.of("run", "--kernel", TestKernels.file("    cli\n    hlt\n").toString());
        assertEquals(RunEnd.HALTED, r.status());
        assertTrue(r.err().contains("every vCPU is halted with interrupts disabled"), r.err());
    }

    @Test
    void theTimeoutStopsASpinningGuest() {
        CommandRun r = CommandRun.of("run", "--timeout", "0.5", "--serial", "null", "--kernel", TestKernels.file("1: jmp 1b\n").toString());
        assertEquals(RunEnd.TIMEOUT, r.status());
        assertTrue(r.err().contains("time limit"), r.err());
    }

    @Test
    void mistakesGiveAClearMessageAndStatus2() throws Exception {
        String k = TestKernels.file(HELLO).toString();
        assertError(CommandRun.of("run"), "give --kernel FILE");
        assertError(CommandRun.of("run", "--kernel", "/no/such/kernel"), "/no/such/kernel: no such kernel file");
        assertError(CommandRun.of("run", "--kernel", k, "--smp", "0"), "cpus: expected 1 to 255, got 0");
        assertError(CommandRun.of("run", "--kernel", k, "-m", "lots"), "memory");
        assertError(CommandRun.of("run", "--kernel", k, "--serial", "tty"), "expected stdio, null or file:PATH");
        assertError(CommandRun.of("run", "--kernel", k, "--config", "/no/such.conf"), "/no/such.conf: no such configuration file");
        assertError(CommandRun.of("run", "--kernel", k, "--smp", "two"), "Invalid value for option '--smp'");
        Path conf = Files.createTempFile("bad", ".conf");
        Files.writeString(conf, "cpu-model = pentium\n");
        assertError(CommandRun.of("run", "--kernel", k, "--config", conf.toString()), conf + ": cpu-model: expected one of");
    }

    private static void assertError(CommandRun r, String message) {
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains(message), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }

    @Test
    void sizesFollowQemusSyntax() {
        assertEquals("512M", MachineOptions.qemuSize("512"));
        assertEquals("1G", MachineOptions.qemuSize("1G"));
    }
}
