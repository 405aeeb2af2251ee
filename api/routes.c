/* Every resource's route table, in matching order.  A resource adds its
 * table here (one line) and its header's include. */
#include "api/routes.h"

#include "api/event.h"
#include "api/macpool.h"
#include "api/member.h"
#include "api/metrics.h"
#include "api/migration.h"
#include "api/network.h"
#include "api/nic.h"
#include "api/openapi.h"
#include "api/port.h"
#include "api/switch.h"
#include "api/system.h"
#include "api/vlan.h"
#include "api/vm.h"
#include "api/web.h"

const struct route *const api_route_tables[] = {
    system_routes,
    nic_routes,
    event_routes,
    member_routes,
    network_routes,
    macpool_routes,
    vlan_routes,
    switch_routes,
    port_routes,
    vm_routes,
    migration_routes,
    openapi_routes,
    metrics_routes,
    web_routes,
};

const size_t api_route_tables_count = sizeof(api_route_tables) / sizeof(api_route_tables[0]);
