/**
 * Limits on how a peer may cut up WebSocket messages, beyond `maxPayload`. We never send
 * fragmented messages, and one frame arrives in a handful of TCP chunks; a peer that drips
 * thousands of tiny fragments or chunks only wants to pin memory (GHSA-96hv-2xvq-fx4p and
 * ws#2331: ~100 bytes of bookkeeping per 1-byte fragment under the default limits).
 */
export const WIRE_LIMITS = { maxFragments: 64, maxBufferedChunks: 4096 } as const;
