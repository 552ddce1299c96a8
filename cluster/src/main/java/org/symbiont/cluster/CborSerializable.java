package org.symbiont.cluster;

/** Messages that cross cluster members: serialized with Jackson CBOR (bound in reference.conf). */
public interface CborSerializable {}
