/* Seeded faults: test-only ways to break one contract rule on purpose, so the conformance suite
 * (tests/conformance/, scripts/conformance.sh) can show that it catches each of them. Nothing
 * here is reachable unless a host calls aero_vdev_seed_fault(); the QEMU glue does so only for
 * the x-seed-fault property, and only when AERO_ALLOW_SEEDED_FAULTS=1 is in its environment.
 */
#include "internal.h"

#include <string.h>

static const struct {
    const char *name;
    enum aero_seeded_fault fault;
} faults[] = {
    {"isr-no-ack", AERO_FAULT_ISR_NO_ACK},           /* CONTRACT §1: ISR is read-to-ack */
    {"revision", AERO_FAULT_REVISION},               /* CONTRACT §1/§4: revision 0x01 */
    {"no-avail-event", AERO_FAULT_NO_AVAIL_EVENT},   /* CONTRACT EVENT_IDX: avail_event */
    {"blk-unsupp-ioerr", AERO_FAULT_BLK_UNSUPP_IOERR}, /* CONTRACT §3.1: UNSUPP status */
};

const char *aero_vdev_seed_fault(struct aero_vdev *vdev, const char *name)
{
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        if (strcmp(name, faults[i].name) != 0)
            continue;
        vdev->faults |= 1u << faults[i].fault;
        if (faults[i].fault == AERO_FAULT_REVISION)
            vdev->p.id.revision = 0x00;
        return NULL;
    }
    return "unknown seeded fault (known: isr-no-ack, revision, no-avail-event, blk-unsupp-ioerr)";
}

bool aero_vdev_faulty(const struct aero_vdev *vdev, enum aero_seeded_fault fault)
{
    return (vdev->faults >> fault) & 1;
}
