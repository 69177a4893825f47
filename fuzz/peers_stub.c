/*
 * peers_stub.c — the fuzz build's stand-ins for the peer maps (impls/peers/
 * are C++ or need their libraries): only their names, which is all an
 * argument parser reads.  The fuzzer never creates a map.
 */
#include "mb_map.h"

const mb_map_ops mb_uthash_ops = { .name = "uthash", .family = "peer", .traits = "" };
const mb_map_ops mb_stb_ds_ops = { .name = "stb_ds", .family = "peer", .traits = "" };
const mb_map_ops mb_glib_ops = { .name = "glib", .family = "peer", .traits = "" };
const mb_map_ops mb_absl_ops = { .name = "absl", .family = "peer", .traits = "" };
