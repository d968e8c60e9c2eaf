# ionhop build.
#   make                 build/libionhop.a, build/ionhop (the tool) and build/ionhop-bench (benchmarks)
#   make test            every tests/*/test_*.c against an AddressSanitizer/UBSan build, then the
#                        Python package's tests when python3 is there
#   make install PREFIX=/usr/local   binary, library, public headers and bundled models
CC      ?= gcc
BUILD   ?= build
OPT     ?= -O3 -march=x86-64-v2 -mtune=native
# -ffp-contract=off: the neighbour search must round like the reference (docs/method.md §2.7).
BASEFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -fopenmp -ffp-contract=off -Iinclude -Isrc \
            -I/usr/include/x86_64-linux-gnu/openblas-pthread -MMD -MP
CFLAGS  ?= $(OPT) -g
LDLIBS  = -lopenblas -lsymspg -lcjson -lm -lpthread
LDFLAGS += -fopenmp

PREFIX  ?= /usr/local
DESTDIR ?=
# where a binary copied out of this tree still finds the bundled models (models/default.ionhop);
# an installed binary finds them in ../share/ionhop beside its bin/ first
IH_DATADIR ?= $(CURDIR)

# the library's modules, in the order data flows through them
LIB_DIRS = core io structure graph nn modelfile train predict
LIB_SRC  = $(sort $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c)))
CLI_SRC  = $(sort $(wildcard src/cli/*.c))
# the benchmarks reuse the tool's option helpers, not its main()
BENCH_SRC = $(sort $(wildcard bench/src/*.c)) src/cli/cli_common.c src/cli/cli_malloc.c
TEST_SRC = $(sort $(wildcard tests/*/test_*.c))

LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/%.o)
BENCH_OBJ = $(BENCH_SRC:%.c=$(BUILD)/%.o)

SAN     = build-san
SANFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_LIB_OBJ = $(LIB_SRC:%.c=$(SAN)/%.o)
SAN_TESTS = $(TEST_SRC:tests/%.c=$(SAN)/tests/%)

.PHONY: all test test-c clean install
all: $(BUILD)/ionhop $(BUILD)/ionhop-bench

$(BUILD)/bench/%.o: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Isrc/cli $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/src/predict/%.o $(SAN)/src/predict/%.o: BASEFLAGS += -DIH_DATADIR='"$(IH_DATADIR)"'

# rebuilt from scratch so objects of deleted sources never linger in the archive
$(BUILD)/libionhop.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/ionhop: $(CLI_OBJ) $(BUILD)/libionhop.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libionhop.a $(LDLIBS)

$(BUILD)/ionhop-bench: $(BENCH_OBJ) $(BUILD)/libionhop.a
	$(CC) $(LDFLAGS) -o $@ $(BENCH_OBJ) $(BUILD)/libionhop.a $(LDLIBS)

# Sanitizer build for the tests.
$(SAN)/bench/%.o: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Isrc/cli $(SANFLAGS) -c $< -o $@

$(SAN)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Itests $(SANFLAGS) -c $< -o $@

$(SAN)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(SANFLAGS) -c $< -o $@

$(SAN)/libionhop.a: $(SAN_LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(SAN)/ionhop: $(CLI_SRC:%.c=$(SAN)/%.o) $(SAN)/libionhop.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $(CLI_SRC:%.c=$(SAN)/%.o) $(SAN)/libionhop.a $(LDLIBS)

$(SAN)/ionhop-bench: $(BENCH_SRC:%.c=$(SAN)/%.o) $(SAN)/libionhop.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $(BENCH_SRC:%.c=$(SAN)/%.o) $(SAN)/libionhop.a $(LDLIBS)

$(SAN)/tests/%: $(SAN)/tests/%.o $(SAN)/libionhop.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $< $(SAN)/libionhop.a $(LDLIBS)

# Tests run from the repository root; ../shared must be beside the checkout (IONHOP_SHARED overrides).
test-c: $(SAN_TESTS) $(SAN)/ionhop $(SAN)/ionhop-bench
	@IONHOP_CLI=$(SAN)/ionhop IONHOP_BENCH=$(SAN)/ionhop-bench sh tests/run_tests.sh $(SAN_TESTS)

test: test-c

install: $(BUILD)/ionhop $(BUILD)/libionhop.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/share/ionhop/models
	install -m 755 $(BUILD)/ionhop $(DESTDIR)$(PREFIX)/bin/ionhop
	install -m 644 $(BUILD)/libionhop.a $(DESTDIR)$(PREFIX)/lib/libionhop.a
	install -m 644 include/ionhop.h include/ionhop_nn.h include/ionhop_modelfile.h include/ionhop_train.h \
	    $(DESTDIR)$(PREFIX)/include/
	install -m 644 models/default.ionhop models/mpt.ionhop $(DESTDIR)$(PREFIX)/share/ionhop/models/

clean:
	rm -rf $(BUILD) $(SAN)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) $(SAN_LIB_OBJ:.o=.d)
-include $(CLI_SRC:%.c=$(SAN)/%.d) $(BENCH_SRC:%.c=$(SAN)/%.d) $(SAN_TESTS:=.d)
