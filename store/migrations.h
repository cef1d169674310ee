/*
 * migrations.h: the numbered SQL files of store/migrations, embedded into the
 * binary at build time (see embed_migrations.cmake), in version order.
 */
#ifndef FYNSYNC_MIGRATIONS_H
#define FYNSYNC_MIGRATIONS_H

#include <stddef.h>

struct fyn_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct fyn_migration fyn_migrations[];
extern const size_t fyn_migration_count;

#endif
