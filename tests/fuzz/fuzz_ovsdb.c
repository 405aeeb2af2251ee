/* libFuzzer target: whatever an OVSDB server sends (replies, echo requests,
 * monitor updates, garbage) is read by vswitch/ovsdb.c without crashing,
 * leaking or hanging, and the value readers the Open vSwitch driver uses
 * (sets, maps, uuids) and its reading of a listing take any JSON value.  The input is the whole
 * stream from "the server", then it stops sending; the calls go in a fixed order, so replies carry
 * ids 1 (transact) and 2 (monitor), then updates. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "vswitch/ovsdb.h"
#include "vswitch/vswitch.h"
#include "tests/fuzz/stream.h"

/* Every reader on every value inside V, as the driver may meet them. */
static void read_values(struct json_object *v, int depth)
{
    if (!v || depth > 16)
        return;
    size_t n = ovsdb_set_size(v);
    for (size_t i = 0; i < n && i < 64; i++)
        ovsdb_set_at(v, i);
    ovsdb_map_get(v, "lmnet-port");
    ovsdb_uuid_of(v);
    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            read_values(json_object_array_get_idx(v, i), depth + 1);
    } else if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, value)
        {
            (void)key;
            read_values(value, depth + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int peer;
    int fd = fuzz_stream(data, size, &peer);
    if (fd < 0)
        return 0;
    struct ovsdb *o = NULL;
    if (ovsdb_open(fd, 1000, &o) < 0) {
        close(fd);
        close(peer);
        return 0;
    }
    struct json_object *ops = json_tokener_parse(
        "[{\"op\":\"select\",\"table\":\"Bridge\",\"where\":[],\"columns\":[\"name\",\"ports\"]}]");
    struct json_object *results = NULL;
    char err[512];
    if (ovsdb_transact(o, "Open_vSwitch", ops, &results, err, sizeof(err)) == 0) {
        read_values(results, 0);
        /* As the driver reads its listing's answer. */
        struct vswitch_object *objects = NULL;
        size_t n = 0;
        if (vswitch_ovs_list_parse(results, &objects, &n) == 0)
            free(objects);
    }
    json_object_put(results);
    json_object_put(ops);
    struct json_object *requests =
        json_tokener_parse("{\"Port\":{\"columns\":[\"name\",\"tag\"]}}");
    struct json_object *initial = NULL;
    if (ovsdb_monitor(o, "Open_vSwitch", "lmnet", requests, &initial) == 0)
        read_values(initial, 0);
    json_object_put(initial);
    json_object_put(requests);
    struct json_object *update = NULL;
    while (ovsdb_next_update(o, 0, &update) == 0) {
        read_values(update, 0);
        json_object_put(update);
        update = NULL;
    }
    ovsdb_close(o);
    close(peer);
    return 0;
}
