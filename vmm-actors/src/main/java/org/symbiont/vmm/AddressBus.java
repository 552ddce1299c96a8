package org.symbiont.vmm;

import java.util.ArrayList;
import java.util.List;

/**
 * Devices by address range, as Firecracker's bus keeps them: non-overlapping ranges kept sorted,
 * looked up by binary search. Used for I/O ports and for MMIO.
 *
 * @param <T> what a range leads to (a device actor and its name)
 */
public final class AddressBus<T> {
    private record Range<T>(long base, long end, T target, String owner) {}

    private final List<Range<T>> ranges = new ArrayList<>();
    private final String what;

    public AddressBus(String what) {
        this.what = what;
    }

    /** Adds {@code [base, base + length)}; overlapping an existing range is a configuration error. */
    public void add(long base, long length, T target, String owner) {
        long end = base + length;
        int i = 0;
        while (i < ranges.size() && ranges.get(i).base < base) i++;
        if (i > 0 && ranges.get(i - 1).end > base) throw overlap(base, end, owner, ranges.get(i - 1));
        if (i < ranges.size() && ranges.get(i).base < end) throw overlap(base, end, owner, ranges.get(i));
        ranges.add(i, new Range<>(base, end, target, owner));
    }

    /** Removes every range of {@code owner} (a device whose decoding changed). */
    public void removeOwner(String owner) {
        ranges.removeIf(r -> r.owner.equals(owner));
    }

    private IllegalArgumentException overlap(long base, long end, String owner, Range<T> other) {
        return new IllegalArgumentException(String.format("%s range [%#x, %#x) of %s overlaps [%#x, %#x) of %s",
                what, base, end, owner, other.base, other.end, other.owner));
    }

    /** The target whose range holds {@code address}, or null. */
    public T find(long address) {
        int lo = 0, hi = ranges.size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Range<T> r = ranges.get(mid);
            if (address < r.base) hi = mid - 1;
            else if (address >= r.end) lo = mid + 1;
            else return r.target;
        }
        return null;
    }
}
