package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.x86.Seeds;

/**
 * Hostile guests in whole VMs, each batch beside a well-behaved neighbour VM in the same actor
 * system: random bytes executed as kernel code; random page tables (a random page directory and
 * page table, random CR4 paging bits, then CR0.PG set and random loads); and random device
 * register accesses (a guest PRNG drives IN/OUT of every size to the PC's ports and MMIO reads
 * and writes to the I/O APIC, the local APIC and random addresses). Every hostile VM must end
 * with a guest-level reason (exit, triple fault, halted, or stopped at the batch's time limit
 * when it loops), never VMM_ERROR or CONFIG_ERROR; the neighbour must print and return exactly
 * what it does alone. Hostile VMs: system property {@code symbiont.hostile.guests} (the soak
 * profile raises it), seed {@code symbiont.hostile.seed}.
 */
class HostileGuestFuzzTest {
    private static final int GUESTS = Integer.getInteger("symbiont.hostile.guests", 36);
    private static final long SEED = Seeds.parse(System.getProperty("symbiont.hostile.seed", "0x5EEDF022"));
    private static final int BATCH = 12;
    /** Hang detector only: a batch whose VMs do not all report within it counts its VMs as hangs. */
    private static final Duration BATCH_LIMIT = Duration.ofSeconds(8);
    private static final Set<VmReport.Reason> GUEST_LEVEL =
            EnumSet.of(VmReport.Reason.GUEST_EXIT, VmReport.Reason.TRIPLE_FAULT, VmReport.Reason.HALTED, VmReport.Reason.STOPPED);

    /** Sums 1..100000 and prints the sum's last digit every 16384 steps; exits with status 3 when the sum is right. */
    private static final String NEIGHBOUR = """
                movl $0, 0x200000
                mov $1, %ecx
            1:  add %ecx, 0x200000
                mov %ecx, %eax
                and $0x3fff, %eax
                jnz 2f
                mov 0x200000, %eax
                xor %edx, %edx
                mov $10, %ebx
                div %ebx
                add $'0', %dl
                mov %dl, %al
                out %al, $0xe9
            2:  inc %ecx
                cmp $100000, %ecx
                jbe 1b
                mov 0x200000, %eax
                cmp $705082704, %eax
                jne bad
            """ + TestKernels.exit(1) + "bad:\n" + TestKernels.exit(2);

    private enum Kind { RANDOM_CODE, RANDOM_PAGE_TABLES, RANDOM_DEVICE_ACCESSES }

    @Test
    void hostileGuestsEndAtGuestLevelAndTheirNeighboursAreUnaffected() {
        SplittableRandom seeds = new SplittableRandom(SEED);
        var neighbourKernel = TestKernels.file(NEIGHBOUR);
        VmRun alone = VmRun.run(VmRun.config("neighbour-alone", neighbourKernel, "memory = 16M"));
        assertEquals(3, alone.report.guestStatus(), alone.report.message());
        int crashes = 0, hangs = 0, timeLimits = 0, tried = 0, deviceGuestsDone = 0;
        int[] reasons = new int[VmReport.Reason.values().length];
        List<String> firstFailures = new ArrayList<>();
        for (int batchStart = 0; batchStart < GUESTS; batchStart += BATCH) {
            List<VmConfig> configs = new ArrayList<>();
            List<String> labels = new ArrayList<>();
            for (int k = batchStart; k < Math.min(GUESTS, batchStart + BATCH); k++) {
                long seed = seeds.nextLong();
                Kind kind = Kind.values()[k % Kind.values().length];
                labels.add(String.format("%s seed %#x", kind, seed));
                configs.add(VmRun.config("hostile" + k, TestKernels.file(source(kind, new SplittableRandom(seed))), "memory = 16M"));
            }
            configs.add(VmRun.config("neighbour" + batchStart, neighbourKernel, "memory = 16M"));
            List<CharBackends.Capture> consoles = configs.stream().map(c -> new CharBackends.Capture()).toList();
            List<VmSpec> specs = new ArrayList<>();
            for (int k = 0; k < configs.size(); k++) specs.add(VmSpec.prepare(configs.get(k), Extensions.none(), consoles.get(k)));
            List<VmReport> reports;
            try {
                reports = Vms.runAll(specs, BATCH_LIMIT);
            } catch (IllegalStateException e) {
                hangs += specs.size();
                firstFailures.add("batch at " + batchStart + " did not stop when asked: " + e.getMessage());
                continue;
            }
            for (int k = 0; k < labels.size(); k++) {
                VmReport r = reports.get(k);
                tried++;
                reasons[r.reason().ordinal()]++;
                if (r.reason() == VmReport.Reason.STOPPED) timeLimits++;
                if (labels.get(k).startsWith(Kind.RANDOM_DEVICE_ACCESSES.name()) && r.reason() == VmReport.Reason.GUEST_EXIT) deviceGuestsDone++;
                if (!GUEST_LEVEL.contains(r.reason())) {
                    crashes++;
                    if (firstFailures.size() < 10) firstFailures.add(labels.get(k) + ": " + r.reason() + ": " + r.message());
                }
            }
            VmReport neighbour = reports.getLast();
            if (neighbour.reason() != VmReport.Reason.GUEST_EXIT || neighbour.guestStatus() != 3
                    || !consoles.getLast().text().equals(alone.console)) {
                crashes++;
                firstFailures.add("neighbour of batch " + batchStart + ": " + neighbour.reason() + " status " + neighbour.guestStatus()
                        + " console \"" + consoles.getLast().text() + "\": " + neighbour.message());
            }
        }
        StringBuilder outcomes = new StringBuilder();
        for (VmReport.Reason reason : VmReport.Reason.values()) {
            if (reasons[reason.ordinal()] > 0) outcomes.append(' ').append(reason.name().toLowerCase()).append(' ').append(reasons[reason.ordinal()]);
        }
        System.out.printf("FUZZ guests: %d inputs, %d crashes, %d hangs (%d stopped looping at the time limit;%s)%n",
                tried, crashes, hangs, timeLimits, outcomes);
        assertEquals(List.of(), firstFailures, crashes + " crashes, " + hangs + " hangs");
        assertEquals(GUESTS, tried);
        assertTrue(deviceGuestsDone > 0, "some device-access guests run all their accesses and exit");
    }

    private static String source(Kind kind, SplittableRandom r) {
        return switch (kind) {
            case RANDOM_CODE -> "    cli\n" + bytes(r, 4096);
            case RANDOM_PAGE_TABLES -> randomPageTables(r);
            case RANDOM_DEVICE_ACCESSES -> randomDeviceAccesses(r);
        };
    }

    private static String bytes(SplittableRandom r, int count) {
        StringBuilder s = new StringBuilder();
        for (int k = 0; k < count; k++) s.append(k % 32 == 0 ? "\n    .byte " : ", ").append(r.nextInt(256));
        return s.append('\n').toString();
    }

    /**
     * A page directory and a page table of random entries (most present, pointing into RAM or
     * anywhere, some identity-mapping the kernel as a 4 MiB page), random PSE/PAE/PGE bits,
     * paging enabled, then loads from random addresses and an exit.
     */
    private static String randomPageTables(SplittableRandom r) {
        StringBuilder tables = new StringBuilder("    .balign 4096\ndirectory:\n");
        for (int k = 0; k < 2048; k++) {
            if (k == 1024) tables.append("table:\n");
            long entry = switch (r.nextInt(6)) {
                case 0 -> r.nextInt() & 0xFFFF_FFFFL;
                case 1 -> 0;
                case 2 -> 0x83;                               // 4 MiB page at 0 (with PSE): the kernel stays mapped
                default -> (r.nextInt(0, 16 << 20) & ~0xFFF) | (r.nextInt(0x200) | 1);
            };
            tables.append("    .long ").append(entry).append('\n');
        }
        int cr4 = (r.nextBoolean() ? 0x10 : 0) | (r.nextInt(4) == 0 ? 0x20 : 0) | (r.nextBoolean() ? 0x80 : 0);
        return """
                    mov $directory, %%eax
                    mov %%eax, %%cr3
                    mov $%d, %%eax
                    mov %%eax, %%cr4
                    mov %%cr0, %%eax
                    or $0x80000000, %%eax
                    mov %%eax, %%cr0
                    mov $%d, %%edx
                    mov $64, %%ecx
                1:  imul $1103515245, %%edx
                    add $12345, %%edx
                    mov (%%edx), %%eax
                    loop 1b
                """.formatted(cr4, r.nextInt()) + TestKernels.exit(0) + tables;
    }

    /**
     * A loop of 3000 accesses chosen by a guest PRNG seeded from {@code r}: IN or OUT of 1, 2 or 4
     * bytes to a random port below 0x400 (or anywhere), MMIO reads and writes of 1, 2 or 4 bytes
     * in the I/O APIC's and local APIC's pages, or at a random address. Ports that end the run on
     * purpose (isa-debug-exit 0xF4, the reset registers 0x64, 0x92 and 0xCF9) are skipped, so the
     * guest keeps going and exits with status 1 at the end.
     */
    private static String randomDeviceAccesses(SplittableRandom r) {
        return """
                    mov $0x90000, %%esp
                    mov $%d, %%esi
                    mov $3000, %%edi
                next:
                    imul $1103515245, %%esi
                    add $12345, %%esi
                    mov %%esi, %%ebx
                    shr $8, %%ebx
                    mov %%esi, %%eax
                    imul $69069, %%eax
                    mov %%esi, %%edx
                    shr $20, %%edx
                    and $0x3ff, %%edx
                    test $0x80000, %%ebx
                    jz 1f
                    mov %%esi, %%edx
                    shr $16, %%edx
                1:  cmp $0xf4, %%dx
                    je done
                    cmp $0x64, %%dx
                    je done
                    cmp $0x92, %%dx
                    je done
                    cmp $0xcf9, %%dx
                    je done
                    mov %%ebx, %%ecx
                    and $7, %%ecx
                    jmp *table(,%%ecx,4)
                table:
                    .long inb, inw, inl, outb, outw, outl, mmio_read, mmio_write
                inb:  in %%dx, %%al
                      jmp done
                inw:  in %%dx, %%ax
                      jmp done
                inl:  in %%dx, %%eax
                      jmp done
                outb: out %%al, %%dx
                      jmp done
                outw: out %%ax, %%dx
                      jmp done
                outl: out %%eax, %%dx
                      jmp done
                mmio_read:
                    call address
                    mov (%%ecx), %%eax
                    jmp done
                mmio_write:
                    call address
                    test $0x100, %%ebx
                    jz 2f
                    movb %%al, (%%ecx)
                    jmp done
                2:  test $0x200, %%ebx
                    jz 3f
                    movw %%ax, (%%ecx)
                    jmp done
                3:  mov %%eax, (%%ecx)
                    jmp done
                address:
                    mov %%esi, %%ecx
                    and $0xffc, %%ecx
                    test $0x400, %%ebx
                    jz 4f
                    or $0xfec00000, %%ecx
                    ret
                4:  test $0x800, %%ebx
                    jz 5f
                    or $0xfee00000, %%ecx
                    ret
                5:  mov %%eax, %%ecx
                    ret
                done:
                    dec %%edi
                    jnz next
                """.formatted(r.nextInt()) + TestKernels.exit(0);
    }
}
