package org.symbiont.cluster;

/**
 * One simulated node of an experiment: its VM configuration (HOCON, keys as in a VM
 * configuration file; its one virtio-net with a {@code link} is its interconnect NIC, whose
 * {@code mac} is its address), and the kernel image with the name it boots under (the first word
 * of the guest's command line, so the same name gives the same run wherever the node is placed).
 */
public record NodeSpec(int index, String name, String vmConfig, byte[] kernel, String kernelName) implements CborSerializable {}
