#include "conformance.h"




void checks_snd(struct ctx *c) { (void)c; }
