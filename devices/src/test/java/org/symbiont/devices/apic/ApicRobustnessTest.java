package org.symbiont.devices.apic;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.devices.MsrDevice.MsrAccessRefused;

/**
 * Whatever a guest writes, wherever and at whatever size, the models answer without an exception
 * (other than a refused MSR access, which is the guest's #GP), and their interrupt outputs stay
 * consistent.
 */
class ApicRobustnessTest {
    private static final int[] SIZES = {1, 2, 4, 8};

    @Test
    void anyLocalApicAccessIsAnswered() {
        try (ApicMachine m = new ApicMachine(2)) {
            SplittableRandom random = new SplittableRandom(7);
            LocalApic apic = m.apic(0);
            for (int round = 0; round < 20_000; round++) {
                long value = random.nextLong();
                switch (random.nextInt(6)) {
                    case 0, 1 -> {
                        long address = LocalApic.DEFAULT_BASE + random.nextInt(LocalApic.PAGE_SIZE);
                        int size = SIZES[random.nextInt(SIZES.length)];
                        if (random.nextBoolean()) apic.mmioWrite(address, size, value); else apic.mmioRead(address, size);
                    }
                    case 2, 3 -> {
                        int msr = LocalApic.MSR_X2APIC_FIRST + random.nextInt(0x100);
                        if (random.nextInt(4) == 0) value &= 0xFF;   // often within the register's bits
                        try {
                            if (random.nextBoolean()) apic.wrmsr(msr, value); else apic.rdmsr(msr);
                        } catch (MsrAccessRefused refused) {
                            // the guest's #GP
                        }
                    }
                    case 4 -> {
                        long[] bases = {0xFEE0_0000L, 0xFEE0_0800L, 0xFEE0_0C00L, 0xFEE0_0000L | (value & 0xD00)};
                        try {
                            apic.wrmsr(LocalApic.MSR_APIC_BASE, bases[random.nextInt(bases.length)]);
                        } catch (MsrAccessRefused refused) {
                            // illegal transition
                        }
                    }
                    default -> {
                        m.ctx.advance(random.nextInt(5_000));
                        apic.setLint(random.nextInt(2), random.nextBoolean());
                        int vector = apic.pendingInterrupt();
                        if (vector >= 0) assertEquals(vector, apic.interruptTaken(vector));
                        try {
                            apic.wrmsr(LocalApic.MSR_TSC_DEADLINE, random.nextInt(1 << 20));
                        } catch (MsrAccessRefused refused) {
                            fail("IA32_TSC_DEADLINE accepts any value");
                        }
                    }
                }
                int vector = apic.pendingInterrupt();
                assertTrue(vector == -1 || (vector >= 16 && vector <= 255), "pending vector " + vector);
            }
        }
    }

    @Test
    void anyIoApicAccessIsAnswered() {
        try (ApicMachine m = new ApicMachine(1)) {
            SplittableRandom random = new SplittableRandom(11);
            IoApic io = m.ioapic;
            for (int round = 0; round < 20_000; round++) {
                long address = IoApic.DEFAULT_BASE + (random.nextBoolean() ? random.nextInt(0x50) : random.nextInt(IoApic.WINDOW_SIZE));
                int size = SIZES[random.nextInt(SIZES.length)];
                if (random.nextBoolean()) io.mmioWrite(address, size, random.nextLong()); else io.mmioRead(address, size);
                io.setIrq(random.nextInt(IoApic.PINS), random.nextBoolean());
                if (random.nextInt(8) == 0) io.eoi(random.nextInt(256));
            }
            assertFalse(m.messages.isEmpty());
            for (ApicMachine.Message message : m.messages) {
                assertNotEquals(3, message.deliveryMode(), "reserved modes send nothing");
                assertNotEquals(DeliveryMode.STARTUP, message.deliveryMode());
            }
        }
    }
}
