package org.symbiont.devices;

/** A range of I/O ports a device decodes: {@code [first, first + count)}. */
public record PortRange(int first, int count) {
    public PortRange {
        if (first < 0 || count <= 0 || first + count > 0x10000) {
            throw new IllegalArgumentException(String.format("I/O port range [%#x, +%d) outside 0..0xFFFF", first, count));
        }
    }

    public boolean contains(int port) {
        return port >= first && port < first + count;
    }

    public int last() {
        return first + count - 1;
    }
}
