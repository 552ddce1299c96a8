package org.symbiont.vmm.config;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.vmm.Extensions;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.boot.BootImageException;
import org.symbiont.x86.mmu.PagingMode;
import org.symbiont.x86.mmu.ShadowStrategy;

/** Invalid configurations are refused before anything starts, naming the path and what was expected. */
class VmConfigTest {

    private static String error(String hocon) {
        return assertThrows(VmConfigException.class, () -> VmConfig.from(ConfigFactory.parseString(hocon), "vm.conf")).getMessage();
    }

    @Test
    void defaultsDescribeASmallIntelMachine() {
        VmConfig c = VmConfig.defaults();
        assertEquals(256L << 20, c.memoryBytes());
        assertEquals(1, c.cpus());
        assertEquals("GenuineIntel", c.cpuModel().vendor());
        assertEquals(VmConfig.ExecutionMode.DETERMINISTIC, c.mode());
        assertNull(c.kernel());
        assertEquals(new VmConfig.Paging(PagingMode.NATIVE, ShadowStrategy.VTLB), c.paging());
        assertEquals(2000, c.costs().vmExit());
        assertEquals(20, c.costs().walkReference());
    }

    @Test
    void thePagingMethodIsChosenPerVm() {
        VmConfig c = VmConfig.from(ConfigFactory.parseString("paging { mode = shadow, strategy = cached }, cost-model.walk-reference = 7"), "t");
        assertEquals(new VmConfig.Paging(PagingMode.SHADOW, ShadowStrategy.CACHED), c.paging());
        assertEquals(7, c.costs().walkReference());
        assertEquals(PagingMode.NESTED, VmConfig.from(ConfigFactory.parseString("paging.mode = nested"), "t").paging().mode());
        assertEquals("vm.conf: paging.mode: expected one of native, shadow, nested, got \"hardware\"", error("paging.mode = hardware"));
        assertEquals("vm.conf: paging.strategy: expected one of vtlb, cached, got \"lru\"", error("paging.strategy = lru"));
    }

    @Test
    void theSymbioticInterfacesAreOffUnlessAVmEnablesThem() {
        assertEquals(new VmConfig.Symbiotic(false, 10_000_000, false), VmConfig.defaults().symbiotic());
        VmConfig c = VmConfig.from(ConfigFactory.parseString("symbiotic { enabled = true, symcall-budget = 250us }"), "t");
        assertEquals(new VmConfig.Symbiotic(true, 250_000, false), c.symbiotic());
        assertEquals("vm.conf: symbiotic.symcall-budget: expected a duration from 1us to 10s, got 20s",
                error("symbiotic.symcall-budget = 20s"));
        assertTrue(error("symbiotic.enabled = maybe").contains("symbiotic.enabled"), error("symbiotic.enabled = maybe"));
    }

    @Test
    void swapBypassNeedsSymCallsAndShadowPagingOnOneThread() {
        VmConfig c = VmConfig.from(ConfigFactory.parseString(
                "symbiotic { enabled = true, swapbypass = true }, paging.mode = shadow"), "t");
        assertTrue(c.symbiotic().swapBypass());
        assertEquals("vm.conf: symbiotic.swapbypass: expected paging.mode = shadow (SwapBypass maps swapped pages in shadow"
                + " page tables), got nested", error("symbiotic { enabled = true, swapbypass = true }, paging.mode = nested"));
        assertTrue(error("symbiotic.swapbypass = true, paging.mode = shadow").contains("symbiotic.enabled = true"));
        assertTrue(error("symbiotic { enabled = true, swapbypass = true }, paging.mode = shadow, mode = parallel")
                .contains("mode = deterministic"));
    }

    @Test
    void valuesOverrideTheDefaults() {
        VmConfig c = VmConfig.from(ConfigFactory.parseString("memory = 1G, cpus = 4, cpu-model = amd, mode = parallel, seed = 9"), "t");
        assertEquals(1L << 30, c.memoryBytes());
        assertEquals(4, c.cpus());
        assertEquals("AuthenticAMD", c.cpuModel().vendor());
        assertEquals(VmConfig.ExecutionMode.PARALLEL, c.mode());
        assertEquals(9, c.seed());
    }

    @Test
    void badValuesNameThePathAndWhatWasExpected() {
        assertEquals("vm.conf: memory: expected a multiple of 4K between 2M and 1T, got 1024 bytes", error("memory = 1K"));
        assertTrue(error("memory = lots").startsWith("vm.conf: "), error("memory = lots"));
        assertTrue(error("memory = lots").contains("memory"));
        assertEquals("vm.conf: cpus: expected 1 to 255, got 0", error("cpus = 0"));
        assertTrue(error("cpu-model = sparc").contains("cpu-model: expected one of"));
        assertEquals("vm.conf: mode: expected deterministic or parallel, got \"fast\"", error("mode = fast"));
        assertTrue(error("quantum = 5").contains("quantum: expected 100 to 100000000"));
        assertTrue(error("name = \"a b\"").contains("name: expected letters"));
        assertTrue(error("devices = [{ type = debugcon }]").contains("devices[0].name: expected a device name"));
        assertTrue(error("devices = [{ name = a, type = debugcon }, { name = a, type = debugcon }]")
                .contains("devices[1].name: expected a name not used by another device"));
    }

    @Test
    void aConfigurationFileIsReadAndItsErrorsNameTheFile(@TempDir Path dir) throws Exception {
        Path good = dir.resolve("good.conf");
        Files.writeString(good, "name = node1\nmemory = 64M\n");
        assertEquals("node1", VmConfig.load(good).name());
        Path bad = dir.resolve("bad.conf");
        Files.writeString(bad, "cpus = many\n");
        String m = assertThrows(VmConfigException.class, () -> VmConfig.load(bad)).getMessage();
        assertTrue(m.startsWith(bad.toString()) && m.contains("cpus"), m);
        m = assertThrows(VmConfigException.class, () -> VmConfig.load(dir.resolve("missing.conf"))).getMessage();
        assertTrue(m.contains("missing.conf: no such configuration file"), m);
    }

    @Test
    void preparingAVmChecksTheKernelAndTheDeviceTypes(@TempDir Path dir) throws Exception {
        Path notAKernel = dir.resolve("kernel.bin");
        Files.write(notAKernel, new byte[64]);
        VmConfig noKernel = VmConfig.defaults();
        assertTrue(assertThrows(VmConfigException.class, () -> VmSpec.prepare(noKernel, Extensions.none()))
                .getMessage().contains("no kernel"));
        VmConfig missing = VmConfig.from(ConfigFactory.parseString("kernel.file = \"" + dir.resolve("nope") + "\""), "t");
        assertTrue(assertThrows(BootImageException.class, () -> VmSpec.prepare(missing, Extensions.none()))
                .getMessage().contains("no such kernel file"));
        VmConfig bogus = VmConfig.from(ConfigFactory.parseString("kernel.file = \"" + notAKernel + "\""), "t");
        assertTrue(assertThrows(BootImageException.class, () -> VmSpec.prepare(bogus, Extensions.none()))
                .getMessage().contains("not a Multiboot v1 kernel"));
    }

    @Test
    void fileNamesThePlatformCannotNameAreRefusedWithTheKey() {
        assertEquals("vm.conf: kernel.file: expected a file name, got \"a\\0b\" (Nul character not allowed)", error("kernel.file = \"a\\u0000b\""));
        assertTrue(error("console-input = \"\\u0000\"").startsWith("vm.conf: console-input: expected a file name"));
    }
}
