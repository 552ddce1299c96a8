package org.symbiont.devices.apic;

/**
 * An interprocessor interrupt as a local APIC sends it when software writes the low half of the
 * ICR (xAPIC) or the ICR MSR (x2APIC): the fields of the ICR, decoded (SDM Vol. 3A 11.6.1,
 * 11.12.9), plus the sender's identity for the shorthands.
 *
 * @param source         the initial APIC ID of the sending local APIC ({@link LocalApic#initialApicId()})
 * @param shorthand      the destination shorthand; with {@link Shorthand#NONE} the destination
 *                       fields select the targets
 * @param destination    the destination field: 8 bits in xAPIC mode, 32 bits in x2APIC mode
 * @param logical        logical destination mode (else physical)
 * @param deliveryMode   a {@link DeliveryMode} encoding (never 3 or 7: those are reserved in the
 *                       ICR and not sent)
 * @param level          the level flag (0 only for an INIT level de-assert)
 * @param levelTriggered the trigger-mode flag as written
 * @param vector         the vector: the interrupt's for fixed and lowest priority, the start-up
 *                       page for start-up IPIs, ignored otherwise
 * @param x2apic         sent in x2APIC mode (the destination is 32 bits wide)
 */
public record Ipi(int source, Shorthand shorthand, int destination, boolean logical, int deliveryMode,
                  boolean level, boolean levelTriggered, int vector, boolean x2apic) {

    /** ICR bits 19:18. */
    public enum Shorthand {
        NONE, SELF, ALL_INCLUDING_SELF, ALL_EXCLUDING_SELF;

        static Shorthand of(int bits) {
            return values()[bits & 3];
        }
    }

    /**
     * An INIT level de-assert (delivery mode INIT, level 0, trigger level): on P6 processors it
     * re-synchronized arbitration IDs; Pentium 4 and later processors (which this model is) do
     * nothing with it, so receiving local APICs ignore it (SDM Vol. 3A 11.6.1, as QEMU and KVM).
     */
    public boolean isInitLevelDeassert() {
        return deliveryMode == DeliveryMode.INIT && !level && levelTriggered;
    }

    /**
     * Whether {@code target} (any local APIC of the machine, the sender included) receives this
     * IPI: the shorthands select the sender, everyone, or everyone else; without a shorthand the
     * target's destination matching decides ({@link LocalApic#matchesDestination(int, boolean)}).
     * A globally disabled local APIC receives nothing.
     */
    public boolean isDeliveredTo(LocalApic target) {
        if (target.mode() == LocalApic.Mode.DISABLED) return false;
        return switch (shorthand) {
            case NONE -> target.matchesDestination(destination, logical);
            case SELF -> target.initialApicId() == source;
            case ALL_INCLUDING_SELF -> true;
            case ALL_EXCLUDING_SELF -> target.initialApicId() != source;
        };
    }

    @Override
    public String toString() {
        return String.format("Ipi[from %d %s %s dest %#x %s vector %#x%s%s]", source, DeliveryMode.name(deliveryMode),
                shorthand, destination, logical ? "logical" : "physical", vector,
                level ? "" : " de-assert", levelTriggered ? " level" : "");
    }
}
