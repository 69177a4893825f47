/*
 * case.c — one case setup for every probe (timing, icount, memory, latency,
 * churn): the config the map is created with, its counting allocator, the key
 * stream and the state the measured phase starts from.  Written once, so the
 * children cannot drift apart (icount once built reinsert's map without the
 * clear that timing does, and every icount reinsert case failed its checksum).
 */
#include <string.h>

#include "probe.h"

/* Sets up the key stream for key_indexes keys: the zipf hot set, and the
 * objects pointer values point to (counted in obj_ctr).  Returns 0 or MB_ENOMEM. */
static int pc_stream(mb_probe_case *pc, mb_dist dist, uint64_t seed, size_t key_indexes)
{
    const mb_blueprint *bp = pc->bp;
    pc->stream = (mb_stream){ .dist = dist, .seed = seed, .key_bytes = bp->key_bytes,
                              .val_bytes = bp->val_bytes };
    mb_counter_init(&pc->obj_ctr);
    if (dist == MB_DIST_ZIPF && mb_zipf_init(&pc->stream, key_indexes / 2, 0.99, seed) != 0)
        return MB_ENOMEM;
    if (!bp->object_bytes)
        return 0;
    mb_alloc a = mb_counter_alloc(&pc->obj_ctr);
    if (mb_objects_init(&pc->objs, &a, key_indexes, bp->object_bytes) != 0)
        return MB_ENOMEM;
    pc->stream.objects = &pc->objs;
    return 0;
}

const char *mb_case_open(mb_probe_case *pc, const mb_map_ops *ops, const mb_blueprint *bp,
                         mb_dist dist, size_t n, size_t hint, mb_shrink_policy shrink,
                         uint64_t seed)
{
    memset(pc, 0, sizeof *pc);
    pc->ops = ops;
    pc->bp = bp;
    pc->n = n;
    if (!mb_case_config(ops, bp, hint, shrink, seed, &pc->cfg))
        return "the map does not support this blueprint or shrink policy";
    mb_counter_init(&pc->ctr);
    pc->alloc = mb_counter_alloc(&pc->ctr);
    if (pc_stream(pc, dist, seed, 2 * n) != 0) {
        mb_case_close(pc);
        return "out of memory for the objects";
    }
    return NULL;
}

void mb_case_hugepages(mb_probe_case *pc, int on)
{
    pc->hugepages = on;
    pc->ctr.hugepages = on;
}

const char *mb_case_build(mb_probe_case *pc, mb_phase phase)
{
    mb_case_drop_map(pc);
    mb_counter_init(&pc->ctr);
    pc->ctr.hugepages = pc->hugepages; /* set before the map's first allocation */
    pc->map = pc->ops->create(&pc->alloc, &pc->cfg);
    if (!pc->map)
        return "create failed";
    if (phase == MB_PHASE_INSERT)
        return NULL;
    mb_phase_result r = mb_run_phase(pc->ops, pc->map, &pc->stream, MB_PHASE_INSERT, pc->n);
    if (!r.error && phase == MB_PHASE_REINSERT) /* reinsert: into the cleared map */
        r = mb_run_phase(pc->ops, pc->map, &pc->stream, MB_PHASE_CLEAR, pc->n);
    if (r.error) {
        mb_case_drop_map(pc);
        return r.error;
    }
    return NULL;
}

void mb_case_drop_map(mb_probe_case *pc)
{
    if (pc->map)
        pc->ops->destroy(pc->map);
    pc->map = NULL;
    if (pc->stream.objects)
        mb_objects_free_all(pc->stream.objects);
}

void mb_case_close(mb_probe_case *pc)
{
    mb_case_drop_map(pc);
    if (pc->stream.hot)
        mb_zipf_fini(&pc->stream);
    if (pc->stream.objects)
        mb_objects_fini(pc->stream.objects);
    pc->stream.objects = NULL;
}
