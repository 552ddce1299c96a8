package org.symbiont.cli;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.symbiont.guests.GuestImages;
import org.symbiont.vmm.boot.MultibootImage;

class BareMetalTest {
    private static BareMetal.Result run(String args) {
        MultibootImage img = MultibootImage.parse(GuestImages.cpubench(), "cpubench.bin");
        try (BareMetal m = new BareMetal(256L << 20, img, "cpubench.bin", args, false)) {
            return m.run(2_000_000_000L);
        }
    }

    @Test
    void theGuestBootsIntoLongModeAndComputesPrimes() {
        BareMetal.Result r = run("sieve n=100000");
        assertEquals(0, r.exitCode(), r.stopReason() + "\n" + r.console());
        assertTrue(r.console().contains("RESULT workload=sieve n=100000 rounds=1 result=9592"), r.console());
    }

    @Test
    void theTriadRunsOnSmallPagesAndSse() {
        BareMetal.Result r = run("triad n=4096 rounds=3");
        assertEquals(0, r.exitCode(), r.stopReason() + "\n" + r.console());
        // b = i and c = n - i; after three rounds of a = b + 3c with the arrays rotated, every element
        // is an exact integer combination: the checksum is deterministic and equals the native one.
        assertTrue(r.console().matches("(?s).*RESULT workload=triad n=4096 rounds=3 result=\\d+\\s*"), r.console());
    }

    @Test
    void anUnknownWorkloadIsReportedByTheGuest() {
        BareMetal.Result r = run("nonsense");
        assertEquals(2, r.exitCode());
        assertTrue(r.console().contains("unknown workload"));
    }

    @Test
    void aKernelTooBigForItsMemoryIsAUserError() {
        MultibootImage img = MultibootImage.parse(GuestImages.cpubench(), "cpubench.bin");
        UserError e = assertThrows(UserError.class, () -> new BareMetal(1L << 20, img, "cpubench.bin", "", false));
        assertTrue(e.getMessage().contains("does not fit in guest RAM"), e.getMessage());
    }

    @Test
    void runsAreDeterministic() {
        BareMetal.Result a = run("sieve n=50000 rounds=2");
        BareMetal.Result b = run("sieve n=50000 rounds=2");
        assertEquals(a.instructions(), b.instructions());
        assertEquals(a.console(), b.console());
    }
}
