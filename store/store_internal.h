/*
 * store_internal.h: what the store's own files share and nobody else sees.
 */
#ifndef FYNSYNC_STORE_INTERNAL_H
#define FYNSYNC_STORE_INTERNAL_H

#include <libpq-fe.h>

#include "store.h"

PGconn *fyn_store_connection(struct fyn_store *store);

#endif
