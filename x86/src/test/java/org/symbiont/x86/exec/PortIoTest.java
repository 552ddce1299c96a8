package org.symbiont.x86.exec;

import static org.junit.jupiter.api.Assertions.*;
import static org.symbiont.x86.Arch.*;
import static org.symbiont.x86.exec.Guest.*;

import org.junit.jupiter.api.Test;
import org.symbiont.x86.Exit;
import org.symbiont.x86.TestMachine;

/** IN/OUT privilege: IOPL, then the TSS I/O permission bitmap (SDM Vol. 1, 19.5). */
class PortIoTest {
    static final long TSS = 0x21000;
    static final int BITMAP_OFFSET = 0x68;

    /** A user-mode machine whose TSS has an I/O bitmap denying ports 0x81 and 0x108. */
    private static TestMachine user(String intel, long tssLimit) {
        TestMachine m = longMode(intel);
        m.memory.writeU16(TSS + 102, BITMAP_OFFSET);
        m.memory.writeU8(TSS + BITMAP_OFFSET + (0x81 >>> 3), 1 << (0x81 & 7));
        m.memory.writeU8(TSS + BITMAP_OFFSET + (0x108 >>> 3), 1 << (0x108 & 7));
        m.memory.writeU8(TSS + BITMAP_OFFSET + 8192, 0xFF);
        m.memory.writeU64(TSS + 4, TestMachine.STACK_TOP);   // RSP0 for the fault handlers
        Segmentation.loadCache(m.cpu, TR, TestMachine.TSS_SEL, systemDescriptor(TSS, tssLimit, 0xB, true));
        enterUser(m);
        return m;
    }

    @Test
    void bitmapAllowsAndDenies() {
        try (TestMachine m = user("mov al, 0x41\n out 0xE9, al\n mov dx, 0x107\n out dx, al\n out 0x81, al\n hlt",
                BITMAP_OFFSET + 8192)) {
            Exit e = m.run(100);
            assertEquals(new Exit.PortOut(0x107, 1, 0x41), e);
            m.cpu.completeWrite();
            runToFault(m, EXC_GP);
            assertEquals(0, errorCode(m));
            assertEquals("A", m.console.toString());
        }
    }

    @Test
    void everyByteOfAWidePortMustBeAllowed() {
        try (TestMachine m = user("mov dx, 0x107\n in ax, dx\n hlt", BITMAP_OFFSET + 8192)) {
            runToFault(m, EXC_GP);   // 0x108 is denied
        }
        try (TestMachine m = user("mov dx, 0x106\n in ax, dx\n hlt", BITMAP_OFFSET + 8192)) {
            assertEquals(new Exit.PortIn(0x106, 2), m.run(100));
        }
    }

    @Test
    void bitmapBeyondTheTssLimitDenies() {
        // The processor reads two bytes of the bitmap; both must lie within the TSS limit.
        try (TestMachine m = user("mov dx, 0x10\n in al, dx\n hlt", BITMAP_OFFSET + 3)) {
            assertEquals(new Exit.PortIn(0x10, 1), m.run(100));
        }
        try (TestMachine m = user("mov dx, 0x18\n in al, dx\n hlt", BITMAP_OFFSET + 3)) {
            runToFault(m, EXC_GP);
        }
    }

    @Test
    void sufficientIoplSkipsTheBitmap() {
        try (TestMachine m = user("out 0x81, al\n hlt", BITMAP_OFFSET + 8192)) {
            m.cpu.rflags |= IOPL;
            assertEquals(new Exit.PortOut(0x81, 1, 0x0), m.run(100));
        }
    }
}
