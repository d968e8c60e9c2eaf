# ionhop build. `make` builds build/libionhop.a and build/ionhop; `make test` builds every
# tests/test_*.c against a sanitizer (ASan + UBSan) build of the library and runs them.
CC      ?= gcc
BUILD   ?= build
OPT     ?= -O3 -march=x86-64-v2 -mtune=native
# -ffp-contract=off: the neighbour search must round like the reference (spec §2.7).
BASEFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -fopenmp -ffp-contract=off -Iinclude -Isrc \
            -I/usr/include/x86_64-linux-gnu/openblas-pthread -MMD -MP
CFLAGS  ?= $(OPT) -g
LDLIBS  = -lopenblas -lsymspg -lcjson -lm
LDFLAGS += -fopenmp

LIB_SRC = $(sort $(wildcard src/*.c))
CLI_SRC = $(sort $(wildcard src/cli/*.c))
TEST_SRC = $(sort $(wildcard tests/test_*.c))

LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/%.o)

SAN     = build-san
SANFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_LIB_OBJ = $(LIB_SRC:%.c=$(SAN)/%.o)
SAN_TESTS = $(TEST_SRC:tests/%.c=$(SAN)/tests/%)

.PHONY: all test clean bench-build
all: $(BUILD)/ionhop

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) -c $< -o $@

# rebuilt from scratch so objects of deleted sources never linger in the archive
$(BUILD)/libionhop.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/ionhop: $(CLI_OBJ) $(BUILD)/libionhop.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libionhop.a $(LDLIBS)

# Sanitizer build for the tests.
$(SAN)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(SANFLAGS) -c $< -o $@

$(SAN)/libionhop.a: $(SAN_LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(SAN)/ionhop: $(CLI_SRC:%.c=$(SAN)/%.o) $(SAN)/libionhop.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $(CLI_SRC:%.c=$(SAN)/%.o) $(SAN)/libionhop.a $(LDLIBS)

$(SAN)/tests/%: $(SAN)/tests/%.o $(SAN)/libionhop.a
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $< $(SAN)/libionhop.a $(LDLIBS)

# Tests run from the repository root; ../shared must be beside the checkout (IONHOP_SHARED overrides).
test: $(SAN_TESTS) $(SAN)/ionhop
	@IONHOP_CLI=$(SAN)/ionhop sh tests/run_tests.sh $(SAN_TESTS)

clean:
	rm -rf $(BUILD) $(SAN)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SAN_LIB_OBJ:.o=.d) $(CLI_SRC:%.c=$(SAN)/%.d)
-include $(wildcard $(SAN)/tests/*.d)
