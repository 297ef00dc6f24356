# Makefile for careflags (PGXS).
#
#   make                  build careflags.so, the plugins and the client
#   make install          install them into the PostgreSQL found by pg_config
#   make demo             bootstrap, build, run the demo on a throwaway cluster
#   make test             bootstrap, build, run the whole pgTAP suite
#   make installcheck     the core pgTAP suite against a running server
#                         (PGHOST/PGPORT/PGUSER) with careflags installed
#   make dist             the PGXN archive careflags-<version>.zip (git archive)
#
# PG_CONFIG may be given on the command line; by default the PostgreSQL 15
# server's pg_config is used when present, else the one on PATH.

EXTENSION   = careflags
EXTVERSION  = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(EXTENSION).control)

MODULE_big  = careflags
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard extension/*.c)))

# The install script of the current version is assembled from sql/parts/, in
# file-name order, with @extschema@ written out as careflags (the script
# creates that schema itself; see the control file); scripts of earlier
# versions and upgrade scripts are kept as they were released.
SQL_PARTS   = $(sort $(wildcard sql/parts/*.sql))
DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))
EXTRA_CLEAN = $(DATA_built) .deps

PG_CONFIG  ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS       := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
INCSERVER  := $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)

# Server headers are system headers to us: our own code is held to
# -Wall -Wextra -Werror, theirs is not ours to fix.
PG_CPPFLAGS = -isystem $(INCSERVER) -I$(CURDIR)/extension -DCAREFLAGS_VERSION='"$(EXTVERSION)"'
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK  = -lcrypto

# Rebuild an object when a header it includes changes (PGXS's dependency
# tracking, off unless the server was configured with --enable-depend).
override autodepend = yes

PLUGINS    ?= $(patsubst %/Makefile,%,$(wildcard plugins/*/Makefile))
CLI        ?= $(wildcard cli/Makefile)

ifneq ($(PGXS),)
include $(PGXS)
else
all install:
	@echo "pg_config not found: run scripts/bootstrap.sh (or make test / make demo) first" >&2; exit 1
endif

$(DATA_built): $(SQL_PARTS) $(EXTENSION).control
	@mkdir -p sql
	{ echo '-- careflags $(EXTVERSION): generated from sql/parts/ by make; do not edit.'; \
	  printf '%s\n' '\echo Use "CREATE EXTENSION careflags" to load this file. \quit'; \
	  for f in $(SQL_PARTS); do echo; echo "-- ==== $$f ===="; \
	    sed -e '/^\\echo Use "CREATE EXTENSION/d' -e 's/@extschema@/careflags/g' $$f; done; } > $@

# the version is compiled into the library (careflags.version())
extension/careflags.o: $(EXTENSION).control

all: plugins-all cli-all
install: plugins-install cli-install
clean: plugins-clean cli-clean

.PHONY: plugins-all plugins-install plugins-clean cli-all cli-install cli-clean demo test \
        prove_installcheck dist
plugins-all:
	@for p in $(PLUGINS); do $(MAKE) -C $$p PG_CONFIG=$(PG_CONFIG) all || exit 1; done
plugins-install:
	@for p in $(PLUGINS); do $(MAKE) -C $$p PG_CONFIG=$(PG_CONFIG) install || exit 1; done
plugins-clean:
	@for p in $(PLUGINS); do $(MAKE) -C $$p PG_CONFIG=$(PG_CONFIG) clean; done
cli-all:
	@if [ -n "$(CLI)" ]; then $(MAKE) -C cli PG_CONFIG=$(PG_CONFIG) all; fi
cli-install:
	@if [ -n "$(CLI)" ]; then $(MAKE) -C cli PG_CONFIG=$(PG_CONFIG) install; fi
cli-clean:
	@if [ -n "$(CLI)" ]; then $(MAKE) -C cli PG_CONFIG=$(PG_CONFIG) clean; fi

# PGXS has no installcheck of its own without REGRESS: ours runs the core
# pgTAP suite through pg_prove against the running server (as pgvector's
# prove_installcheck); nothing is built or installed by it.
installcheck: prove_installcheck
prove_installcheck:
	PG_CONFIG=$(PG_CONFIG) ./scripts/installcheck.sh

# The PGXN archive: the committed tree (git archive) under one top
# directory, named after META.json's version; checked by the validator.
DISTVERSION = $(shell perl -MJSON::PP -e 'local $$/; print decode_json(<>)->{version}' META.json)
DISTFILE   ?= $(EXTENSION)-$(DISTVERSION).zip
dist:
	git archive --format=zip --prefix=$(EXTENSION)-$(DISTVERSION)/ -o $(DISTFILE) HEAD
	perl scripts/validate-meta.pl --dist $(DISTFILE)

demo:
	./scripts/demo.sh
test:
	./scripts/test.sh
