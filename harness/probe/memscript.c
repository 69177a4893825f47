/*
 * memscript.c — the memory phase script, once for mem-case (memory.c, on a
 * registered map) and go-mem-case (gomem.c, on the real Go map):
 *
 *   start               empty map created                    (not in the table)
 *   insert              keys [0, n)
 *   delete_half         keys [0, n/2) removed
 *   delete_all          keys [n/2, n) removed: the map is empty
 *   trim                the allocator's purge
 *   reinsert            n new keys [n, 2n)
 *   clear               clear(): the map is empty
 *   trim_after_clear    the allocator's purge
 *   rebuild             the remedy "rebuild the map": a new map, the live
 *                       entries copied (none: the map was cleared), the old
 *                       destroyed (Go: m2 := make(...) + copy, m dropped)
 *   trim_after_rebuild  the allocator's purge
 *   refill              keys [n, 2n) again, into the rebuilt map
 *   delete_all_again    keys [n, 2n) removed: a full-size map emptied by deletes,
 *                       so that destroy (Go: m = nil + GC) is judged on one
 *                       (after the rebuild it would drop an empty, small map)
 *   destroy             the map is gone                      (not in the table)
 *   trim_after_destroy  the allocator's purge                (not in the table)
 */
#include "probe.h"

const mb_mem_step mb_mem_script[] = {
    { "insert", MB_MEM_INSERT, 0, 2, 0, 2 },
    { "delete_half", MB_MEM_DELETE, 0, 1, 1, 2 },
    { "delete_all", MB_MEM_DELETE, 1, 2, 0, 0 },
    { "trim", MB_MEM_TRIM, 0, 0, 0, 0 },
    { "reinsert", MB_MEM_INSERT, 2, 4, 2, 4 },
    { "clear", MB_MEM_CLEAR, 0, 0, 0, 0 },
    { "trim_after_clear", MB_MEM_TRIM, 0, 0, 0, 0 },
    { "rebuild", MB_MEM_REBUILD, 0, 0, 0, 0 },
    { "trim_after_rebuild", MB_MEM_TRIM, 0, 0, 0, 0 },
    { "refill", MB_MEM_INSERT, 2, 4, 2, 4 },
    { "delete_all_again", MB_MEM_DELETE, 2, 4, 0, 0 },
};
const size_t mb_mem_script_len = sizeof mb_mem_script / sizeof *mb_mem_script;

size_t mb_mem_pos(int halves, size_t n)
{
    return (size_t)(halves / 2) * n + (size_t)(halves % 2) * (n / 2);
}
