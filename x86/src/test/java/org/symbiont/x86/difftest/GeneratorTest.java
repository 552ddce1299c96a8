package org.symbiont.x86.difftest;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Properties the generated cases must have for the comparison to mean anything. */
class GeneratorTest {
    @Test
    void sameSeedSameCases() {
        Generator a = new Generator(42, List.of(Family.values())), b = new Generator(42, List.of(Family.values()));
        for (int k = 0; k < 300; k++) {
            TestCase x = a.generate(k), y = b.generate(k);
            assertArrayEquals(x.code, y.code);
            assertArrayEquals(x.gpr, y.gpr);
            assertArrayEquals(x.xmm, y.xmm);
            assertArrayEquals(x.initialData(), y.initialData());
            assertEquals(x.family, y.family);
        }
        assertFalse(Arrays.equals(new Generator(43, List.of(Family.values())).generate(0).code, a.generate(0).code));
    }

    @Test
    void everyFamilyGeneratesSaneCases() {
        for (Family f : Family.values()) {
            Generator g = new Generator(7, List.of(f));
            for (int k = 0; k < 200; k++) {
                TestCase c = g.generate(k);
                assertEquals(f, c.family);
                assertTrue(c.code.length > 0 && c.code.length <= Layout.MAX_CODE, f.id());
                long sp = c.gpr[Generator.RSP];
                assertTrue(Layout.inData(sp - 0x400, 0x400), "RSP in the data region with room below");
                int covered = 0;
                for (Step s : c.steps) {
                    assertEquals(covered, s.offset, "steps cover the code contiguously (" + f.id() + ")");
                    covered += s.length;
                    assertEquals(0, s.read & s.undefinedBefore, "an instruction reads a possibly undefined flag (" + f.id() + ")");
                }
                assertEquals(c.code.length, covered);
            }
        }
    }

    @Test
    void familiesParse() {
        assertEquals(List.of(Family.ALU, Family.SSE_ARITH), Family.parse("alu, sse-arith"));
        assertEquals(Family.values().length, Family.parse("all").size());
        assertThrows(IllegalArgumentException.class, () -> Family.parse("nonsense"));
    }
}
