/**
 * How the writer's Node process must be started (as NODE_OPTIONS): the local stack sets it, and
 * so must the Cloud Run service.
 *
 * `--max-semi-space-size=64`: a batch of parsed rows (tens of MB) is larger than V8's default young
 * generation (16 MB semi-spaces), so every minor GC copies the whole batch while it is encoded; with
 * 64 MB semi-spaces the encoder runs about 1.5× faster (npm run bench -w @strata/writer measures both).
 * It costs at most 3 × 64 MB of address space, committed only as the young generation grows.
 */
export const WRITER_NODE_OPTIONS = '--max-semi-space-size=64';
