package org.symbiont.devices.apic;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.apic.LocalApic.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.DeviceStateAssertions;
import org.symbiont.devices.TestDeviceContext;

class LocalApicStateTest {
    private static final int PERIODIC = 1 << 17, TSC_DEADLINE = 2 << 17;

    final List<ApicMachine> machines = new ArrayList<>();

    /** A one-CPU machine whose virtual time starts at {@code startNanos}. */
    ApicMachine machine(long startNanos) {
        ApicMachine m = new ApicMachine(1);
        m.ctx.advanceTo(startNanos);
        machines.add(m);
        return m;
    }

    @AfterEach
    void close() {
        machines.forEach(ApicMachine::close);
    }

    /** A register read at wherever the page is now (it may be relocated). */
    static int read(ApicMachine m, int reg) {
        LocalApic apic = m.apic(0);
        return (int) apic.mmioRead((apic.apicBase() & ~0xFFFL) + reg, 4);
    }

    static void write(ApicMachine m, int reg, int value) {
        LocalApic apic = m.apic(0);
        apic.mmioWrite((apic.apicBase() & ~0xFFFL) + reg, 4, Integer.toUnsignedLong(value));
    }

    /**
     * A core taking and ending interrupts while time passes, the guest reading every register
     * and raising the LINT0 level once more; the trace is what it read, its wake-ups and signals.
     */
    static List<String> drive(ApicMachine m) {
        m.core(0).wakeupTimes.clear();
        m.eois.clear();
        m.ipis.clear();
        List<String> trace = new ArrayList<>();
        for (int step = 0; step < 30; step++) {
            m.ctx.advance(777);
            int vector = m.take(0);
            StringBuilder line = new StringBuilder(m.ctx.nanos() + " took " + vector);
            for (int reg : new int[] {REG_ID, REG_TPR, REG_APR, REG_PPR, REG_LDR, REG_DFR, REG_SVR, REG_ESR, REG_ICR_LOW,
                    REG_ICR_HIGH, REG_LVT_TIMER, REG_LVT_LINT0, REG_LVT_LINT1, REG_LVT_ERROR, REG_TIMER_INITIAL,
                    REG_TIMER_CURRENT, REG_TIMER_DIVIDE}) {
                line.append(' ').append(Integer.toHexString(read(m, reg)));
            }
            for (int word = 0; word < 8; word++) {
                line.append(" isr ").append(Integer.toHexString(read(m, REG_ISR + 16 * word)))
                        .append(" tmr ").append(Integer.toHexString(read(m, REG_TMR + 16 * word)))
                        .append(" irr ").append(Integer.toHexString(read(m, REG_IRR + 16 * word)));
            }
            line.append(" extint ").append(m.apic(0).extIntPending()).append(" base ").append(Long.toHexString(m.apic(0).apicBase()));
            trace.add(line.toString());
            if (step % 3 == 2) write(m, REG_EOI, 0);
            if (step == 10) write(m, REG_ESR, 0);
            if (step == 15) write(m, REG_TPR, 0);
            if (step == 5) m.apic(0).setLint(0, false);
            if (step == 22) m.apic(0).setLint(0, true);
            if (step == 25) m.apic(0).extIntTaken();
        }
        trace.add("wakeups " + m.core(0).wakeupTimes + " eois " + m.eois + " ipis " + m.ipis.size() + " ranges " + m.rangeChanges);
        return trace;
    }

    /**
     * xAPIC at a relocated base, TPR 0x20, cluster logical ID, LINT0 level-triggered with remote
     * IRR set, vectors pending and in service, errors logged and readable, a self IPI sent,
     * an ExtINT message waiting, a periodic timer counting at divide by 4.
     */
    ApicMachine busyXapic() {
        ApicMachine m = machine(5_000);
        LocalApic apic = m.apic(0);
        m.enable(0);
        m.write(0, REG_LDR, 0x21 << 24);
        m.write(0, REG_DFR, 0x0FFF_FFFF);
        m.write(0, REG_LVT_ERROR, 0x33);
        m.write(0, REG_LVT_LINT0, 0x50 | LVT_LEVEL);
        apic.setLint(0, true);
        m.write(0, REG_ICR_HIGH, 0);
        m.write(0, REG_ICR_LOW, 0x4061);                 // fixed self IPI, vector 0x61
        apic.acceptInterrupt(0x70, true);
        apic.acceptInterrupt(0x3C, false);
        assertEquals(0x70, m.take(0));                   // 0x70 in service
        m.read(0, 0x3F0);                                 // illegal register: logged, error interrupt 0x33
        m.write(0, REG_ESR, 0);
        apic.acceptInterrupt(5, false);                   // receive illegal vector: pending for the next ESR write
        m.write(0, REG_TPR, 0x20);
        m.write(0, REG_TIMER_DIVIDE, 0x1);
        m.write(0, REG_LVT_TIMER, 0x44 | PERIODIC);
        m.write(0, REG_TIMER_INITIAL, 2_000);
        apic.acceptMessage(DeliveryMode.EXTINT, 0, false);
        apic.wrmsr(MSR_APIC_BASE, 0xFED0_0000L | 1 << 11 | 1 << 8);
        m.ctx.advance(1_234);
        return m;
    }

    @Test
    void aRestoredXapicDeliversTheSameInterruptsAtTheSameTimes() throws Exception {
        ApicMachine original = busyXapic();
        byte[] saved = DeviceState.save(original.apic(0));
        ApicMachine twin = machine(original.ctx.nanos());
        DeviceState.restore(twin.apic(0), saved);
        assertEquals(1, twin.rangeChanges, "the relocated page is announced");
        original.rangeChanges = twin.rangeChanges = 0;
        List<String> expected = drive(original);
        assertTrue(expected.stream().anyMatch(s -> s.contains(" took 68")), "the periodic timer fires during the drive: " + expected);
        assertEquals(expected, drive(twin));
        assertArrayEquals(DeviceState.save(original.apic(0)), DeviceState.save(twin.apic(0)));
    }

    /** x2APIC mode with a TSC deadline armed and a one-shot count stopped by the mode change. */
    ApicMachine busyX2apic() {
        ApicMachine m = machine(1_000);
        LocalApic apic = m.apic(0);
        m.enable(0);
        apic.wrmsr(MSR_APIC_BASE, DEFAULT_BASE | 1 << 11 | 1 << 10 | 1 << 8);
        apic.wrmsr(MSR_X2APIC_FIRST + (REG_LVT_TIMER >> 4), 0x45 | TSC_DEADLINE);
        apic.wrmsr(MSR_TSC_DEADLINE, 2 * 9_000);         // the test TSC runs at 2 GHz: due at 9 µs
        apic.wrmsr(MSR_X2APIC_FIRST + (REG_TPR >> 4), 0x10);
        apic.wrmsr(MSR_X2APIC_FIRST + (REG_ICR_LOW >> 4), 0x4062L);
        m.ctx.advance(3_000);
        return m;
    }

    static List<String> driveX2apic(ApicMachine m) {
        LocalApic apic = m.apic(0);
        List<String> trace = new ArrayList<>();
        for (int step = 0; step < 12; step++) {
            m.ctx.advance(1_000);
            trace.add(m.ctx.nanos() + " took " + m.take(0) + " deadline " + apic.rdmsr(MSR_TSC_DEADLINE)
                    + " ppr " + apic.rdmsr(MSR_X2APIC_FIRST + (REG_PPR >> 4)) + " id " + apic.rdmsr(MSR_X2APIC_FIRST + (REG_ID >> 4))
                    + " ldr " + apic.rdmsr(MSR_X2APIC_FIRST + (REG_LDR >> 4)) + " icr " + apic.rdmsr(MSR_X2APIC_FIRST + (REG_ICR_LOW >> 4))
                    + " base " + Long.toHexString(apic.apicBase()) + " mode " + apic.mode());
            if (step == 4) apic.wrmsr(MSR_X2APIC_FIRST + (REG_EOI >> 4), 0);
            if (step == 6) apic.wrmsr(MSR_TSC_DEADLINE, 2 * (m.ctx.nanos() + 2_500));
        }
        trace.add("wakeups " + m.core(0).wakeupTimes);
        return trace;
    }

    @Test
    void aRestoredX2apicKeepsItsModeAndTscDeadline() throws Exception {
        ApicMachine original = busyX2apic();
        byte[] saved = DeviceState.save(original.apic(0));
        ApicMachine twin = machine(original.ctx.nanos());
        DeviceState.restore(twin.apic(0), saved);
        assertEquals(Mode.X2APIC, twin.apic(0).mode());
        original.core(0).wakeupTimes.clear();
        List<String> expected = driveX2apic(original);
        assertTrue(expected.getFirst().contains("deadline 18000"), expected.getFirst());
        assertTrue(expected.stream().anyMatch(s -> s.contains(" took 69")), "the deadline fires during the drive: " + expected);
        assertEquals(expected, driveX2apic(twin));
    }

    @Test
    void corruptStateIsRefusedNamingTheField() {
        byte[] saved = DeviceState.save(busyXapic().apic(0));
        TestDeviceContext ctx = machine(10_000).ctx;
        java.util.function.Supplier<LocalApic> fresh = () -> new LocalApic("lapic0", 0, true, 40, DEFAULT_TIMER_HZ, ctx);
        DeviceStateAssertions.assertCorruptStateRefused(fresh::get, saved);
        // Layout: version (4), mode, base (8), xAPIC ID, TPR, LDR, DFR model, SVR (2), ESR (4),
        // ESR pending (4), ICR (4), ICR destination (4), LVT (6 × 4), IRR, ISR, TMR (32 each),
        // LINT0, LINT1, ExtINT, then the timer: divide, initial count (4), counting, ...
        DeviceStateAssertions.assertMalformedRefused(fresh.get(), saved, 4, 3, "mode");
        DeviceStateAssertions.assertMalformedRefused(fresh.get(), saved, 5, 0x01, "base address");
        DeviceStateAssertions.assertMalformedRefused(fresh.get(), saved, 16, 0x10, "DFR model");
        DeviceStateAssertions.assertMalformedRefused(fresh.get(), saved, 18, 0x04, "SVR");
        DeviceStateAssertions.assertMalformedRefused(fresh.get(), saved, 19, 0x01, "ESR");
        DeviceStateAssertions.assertMalformedRefused(fresh.get(), saved, 35 + 4 * 3 + 3, 0x01, "LVT entry 3");
        DeviceStateAssertions.assertMalformedRefused(fresh.get(), saved, 59, 0x01, "IRR");
        DeviceStateAssertions.assertMalformedRefused(fresh.get(), saved, 158, 0x04, "timer divide configuration");
        DeviceStateAssertions.assertMalformedRefused(fresh.get(), saved, 196, 0, "timer event armed");
    }
}
