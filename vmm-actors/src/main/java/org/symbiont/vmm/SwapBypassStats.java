package org.symbiont.vmm;

/**
 * SwapBypass counters of a VM (Palacios 6.11): shadow faults on guest swap entries served from
 * the swap disk's copy, MEM_LOOKUP SymCalls made and those that failed, and bypass mappings
 * dropped because the guest read or wrote their disk page (swap-in, swap-out) or wrote CR3.
 */
public record SwapBypassStats(long bypassedFaults, long symcalls, long symcallsFailed, long invalidatedBySwap,
                              long invalidatedByFlush) {}
