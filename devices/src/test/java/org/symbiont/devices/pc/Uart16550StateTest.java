package org.symbiont.devices.pc;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.devices.pc.Uart16550.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.DeviceState;
import org.symbiont.devices.DeviceStateAssertions;
import org.symbiont.devices.TestDeviceContext;

class Uart16550StateTest {
    static final int COM1 = 0x3F8;
    static final long CHAR_115200 = 10 * 1_000_000_000L / 115_200;

    /** One UART on its own machine and back end. */
    static final class Machine {
        final TestDeviceContext ctx = new TestDeviceContext();
        final Uart16550Test.Backend backend = new Uart16550Test.Backend();
        final TestDeviceContext.Line irq = ctx.line(4);
        Uart16550 uart;

        Machine(long startNanos) {
            ctx.advanceTo(startNanos);
            uart = new Uart16550("com1", COM1, irq, backend, ctx);
        }

        int in(int reg) {
            return (int) uart.ioRead(COM1 + reg, 1);
        }

        void out(int reg, int value) {
            uart.ioWrite(COM1 + reg, 1, value);
        }

        /** Reads the registers a driver looks at over a few character times, typing more input midway. */
        List<String> drive() {
            List<String> trace = new ArrayList<>();
            for (int step = 0; step < 40; step++) {
                if (step == 10) backend.type("XY");
                ctx.advance(CHAR_115200 / 3);
                trace.add(ctx.nanos() + " irq=" + irq.level + " iir=" + in(IIR) + " lsr=" + in(LSR) + " msr=" + in(MSR));
                if (step % 7 == 6) trace.add("rbr=" + in(RBR));
                if (step == 20) out(THR, 'z');
            }
            trace.add("out=" + backend.text() + " irq changes " + irq.changes);
            return trace;
        }
    }

    final List<Machine> machines = new ArrayList<>();

    Machine machine(long startNanos) {
        Machine m = new Machine(startNanos);
        machines.add(m);
        return m;
    }

    @AfterEach
    void close() {
        machines.forEach(m -> m.ctx.close());
    }

    /** 115200 8N1, FIFOs at trigger level 4, interrupts on, two characters received, two more arriving. */
    Machine busyUart() {
        Machine m = machine(0);
        m.out(LCR, LCR_DLAB);
        m.out(DLL, 1);
        m.out(DLM, 0);
        m.out(LCR, 0x03);
        m.out(FCR, 0x40 | FCR_ENABLE);
        m.out(MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
        m.out(IER, IER_RDA | IER_RLS | IER_THRE | IER_MSR);
        m.out(SCR, 0x5A);
        m.backend.type("hello");
        m.ctx.advance(CHAR_115200 * 5 / 2);
        return m;
    }

    Machine restoredTwin(Machine original) throws Exception {
        byte[] saved = DeviceState.save(original.uart);
        Machine twin = machine(original.ctx.nanos());
        twin.backend.in.addAll(original.backend.in);
        DeviceState.restore(twin.uart, saved);
        original.irq.changes.clear();
        twin.irq.changes.clear();
        return twin;
    }

    @Test
    void aRestoredUartBehavesAsTheOriginal() throws Exception {
        Machine original = busyUart();
        Machine twin = restoredTwin(original);
        assertEquals(original.irq.level, twin.irq.level);
        assertEquals(original.drive(), twin.drive());
    }

    @Test
    void pendingInterruptLevelIsDrivenOnRestore() throws Exception {
        Machine original = busyUart();
        original.ctx.advance(CHAR_115200 * 2);
        assertTrue(original.irq.level, "four characters reached the trigger level");
        Machine twin = restoredTwin(original);
        assertTrue(twin.irq.level);
        assertEquals(original.drive(), twin.drive());
    }

    @Test
    void loopbackAndDivisorLatchSurvive() throws Exception {
        Machine original = machine(0);
        original.out(MCR, MCR_LOOP | MCR_RTS);
        original.out(THR, 'q');
        original.out(LCR, LCR_DLAB);
        original.out(DLL, 3);
        Machine twin = restoredTwin(original);
        for (Machine m : List.of(original, twin)) {
            assertEquals(3, m.in(DLL));
            m.out(LCR, 0);
            assertEquals('q', m.in(RBR));
            assertEquals(0x10, m.in(MSR) & 0xF0, "CTS follows RTS in loopback");
        }
    }

    @Test
    void corruptStateIsRefusedNamingTheField() {
        Machine original = busyUart();
        byte[] saved = DeviceState.save(original.uart);
        DeviceStateAssertions.assertCorruptStateRefused(() -> machine(original.ctx.nanos()).uart, saved);
        // Layout: version (4), IER, LCR, MCR, SCR, divisor (2), FIFOs enabled, trigger level.
        DeviceStateAssertions.assertMalformedRefused(machine(0).uart, saved, 11, 5, "trigger level");
        DeviceStateAssertions.assertMalformedRefused(machine(0).uart, saved, 10, 2, "FIFOs enabled");
        DeviceStateAssertions.assertMalformedRefused(machine(0).uart, saved, 12 + 32, 16, "receiver head");
    }
}
