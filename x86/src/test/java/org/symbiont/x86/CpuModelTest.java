package org.symbiont.x86;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class CpuModelTest {
    private final CpuModel model = CpuModel.standard();

    private static String text(int... words) {
        ByteBuffer b = ByteBuffer.allocate(4 * words.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int w : words) b.putInt(w);
        return new String(b.array(), StandardCharsets.US_ASCII).replace("\0", "");
    }

    @Test
    void vendorAndBrandStrings() {
        int[] l0 = model.cpuid(0, 0, 0, false);
        assertEquals("GenuineIntel", text(l0[1], l0[3], l0[2]), "EBX, EDX, ECX spell the vendor");
        StringBuilder brand = new StringBuilder();
        for (int leaf = 0x8000_0002; leaf <= 0x8000_0004; leaf++) {
            int[] r = model.cpuid(leaf, 0, 0, false);
            brand.append(text(r));
        }
        assertEquals("Symbiont Virtual CPU", brand.toString());
    }

    @Test
    void featureLeavesDescribeWhatTheCoreImplements() {
        int[] l1 = model.cpuid(1, 0, 5, true);
        assertEquals(5, l1[1] >>> 24, "initial APIC ID");
        assertTrue((l1[3] & (1 << 25 | 1 << 26)) == (1 << 25 | 1 << 26), "SSE and SSE2");
        assertTrue((l1[2] & (1 << 27)) != 0, "OSXSAVE reflects CR4");
        assertEquals(0, model.cpuid(1, 0, 5, false)[2] & (1 << 27));
        assertEquals(0, l1[2] & (1 << 28), "no AVX");
        int[] ext = model.cpuid(0x8000_0001, 0, 0, false);
        assertTrue((ext[3] & (1 << 29)) != 0, "long mode");
        assertTrue((ext[3] & (1 << 20)) != 0, "NX");
        int[] sizes = model.cpuid(0x8000_0008, 0, 0, false);
        assertEquals(40, sizes[0] & 0xFF);
        assertEquals(48, (sizes[0] >>> 8) & 0xFF);
    }

    @Test
    void leavesAboveTheMaximumReturnTheHighestBasicLeaf() {
        assertArrayEquals(model.cpuid(0xD, 0, 0, false), model.cpuid(0x2000_0000, 0, 0, false));
    }

    @Test
    void badModelsAreRejectedWithAClearMessage() {
        var e = assertThrows(IllegalArgumentException.class, () -> new CpuModel("Intel", "x", 1, 40, true, 1));
        assertTrue(e.getMessage().contains("12 characters"));
        assertThrows(IllegalArgumentException.class, () -> new CpuModel("GenuineIntel", "x", 1, 60, true, 1));
    }
}
