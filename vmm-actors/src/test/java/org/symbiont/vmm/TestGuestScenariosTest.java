package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.GuestScenario;
import org.symbiont.vmm.config.VmConfig;

/**
 * The test guest's scenarios (serial port, PIT, PIC, local and I/O APIC, SMP start-up by
 * INIT/SIPI, fw_cfg, ACPI, RTC, debug-exit) on Symbiont, each compared line by line with what
 * the same image printed under QEMU ({@link GuestScenario}).
 */
class TestGuestScenariosTest {
    /**
     * Lines where Symbiont's platform firmware legitimately differs from QEMU's SeaBIOS, by
     * scenario, each expected line with what Symbiont prints instead: SeaBIOS reserves the top
     * 128 KiB of RAM for its ACPI tables, Symbiont places them in the BIOS area (0xE0000) with an
     * ACPI 2.0 RSDP and an XSDT, and has no HPET or WAET table.
     */
    private static final Map<String, Map<String, List<String>>> FIRMWARE_DIFFERENCES = Map.of(
            "hello", Map.of(
                    "mem_upper 260992 KiB", List.of("mem_upper 261120 KiB"),
                    "mmap base 0x100000 length 0xfee0000 type 1", List.of("mmap base 0x100000 length 0xff00000 type 1")),
            "acpi", Map.of(
                    "rsdp revision 0 checksum ok", List.of("rsdp revision 2 checksum ok"),
                    "rsdt checksum ok", List.of("rsdt checksum ok", "xsdt checksum ok"),
                    "tables: APIC DSDT FACP FACS HPET WAET", List.of("tables: APIC DSDT FACP FACS")),
            // QEMU hands SeaBIOS its ACPI tables through fw_cfg; Symbiont's firmware tables are already in RAM.
            "fwcfg", Map.of(
                    "fw_cfg etc/acpi/rsdp found etc/acpi/tables found", List.of("fw_cfg etc/acpi/rsdp absent etc/acpi/tables absent")));

    @TempDir
    static Path dir;
    private static Path kernel;

    @BeforeAll
    static void writeKernel() throws Exception {
        kernel = dir.resolve("testguest.bin");
        Files.write(kernel, GuestImages.testguest());
    }

    static List<String> scenarios() {
        return GuestScenario.NAMES;
    }

    private static VmConfig config(GuestScenario s, String name, String extra) {
        return VmRun.pcConfig(name, kernel, "cpus = " + s.cpus() + "\nkernel.append = \"" + s.cmdline() + "\"\n" + extra);
    }

    private static List<String> expectedOnSymbiont(GuestScenario s, List<String> actual) {
        Map<String, List<String>> differences = FIRMWARE_DIFFERENCES.getOrDefault(s.name(), Map.of());
        return s.reconciledWith(actual).stream().flatMap(line -> differences.getOrDefault(line, List.of(line)).stream()).toList();
    }

    private static void assertMatchesQemu(GuestScenario s, VmRun run) {
        List<String> actual = run.console.lines().toList();
        assertEquals(VmReport.Reason.GUEST_EXIT, run.report.reason(), () -> run.report.message() + "\n" + run.console);
        assertEquals(s.exitStatus(), run.report.guestStatus(), () -> "exit status of " + s.name() + "\n" + run.console);
        assertEquals(String.join("\n", expectedOnSymbiont(s, actual)), String.join("\n", actual),
                () -> s.name() + ": output differs from QEMU's");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void printsWhatQemuPrints(String name) {
        GuestScenario s = GuestScenario.load(name);
        assertMatchesQemu(s, VmRun.run(config(s, name, "")));
    }

    @ParameterizedTest(name = "{0} in parallel mode")
    @MethodSource("scenarios")
    void printsWhatQemuPrintsWithAThreadPerVcpu(String name) {
        GuestScenario s = GuestScenario.load(name);
        assertMatchesQemu(s, VmRun.run(config(s, name, "mode = parallel")));
    }
}
