#include "conformance.h"

void checks_blk(struct ctx *c) { (void)c; }
void checks_net(struct ctx *c) { (void)c; }
void checks_input(struct ctx *c) { (void)c; }
void checks_snd(struct ctx *c) { (void)c; }
