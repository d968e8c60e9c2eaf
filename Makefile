# ionhop build.
#   make                 build/libionhop.a, build/ionhop (the tool) and build/ionhop-bench (benchmarks)
#   make test            every tests/*/test_*.c against an AddressSanitizer/UBSan build, then the
#                        Python package's tests when python3 is there
#   make install PREFIX=/usr/local   binary, library, public headers and bundled models
#   make MPI=1           the same with MPI (mpicc; Debian: libopenmpi-dev openmpi-bin) in build-mpi/,
#                        for mpirun -np N ionhop pretrain|train|finetune|screen (docs/mpi.md)
#   make test-mpi        the MPI build's tests under mpirun -np 2 (tests/mpi/)
CC      ?= gcc
ifeq ($(MPI),1)
# Open MPI's and MPICH's compiler wrapper; only src/core/dist.c includes mpi.h
CC      = mpicc
BUILD  ?= build-mpi
MPIFLAGS = -DIH_MPI
endif
BUILD   ?= build
OPT     ?= -O3 -march=x86-64-v2 -mtune=native
# -ffp-contract=off: the neighbour search must round like the reference (docs/method.md §2.7).
BASEFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -fopenmp -ffp-contract=off -Iinclude -Isrc \
            -I/usr/include/x86_64-linux-gnu/openblas-pthread -MMD -MP $(MPIFLAGS)
CFLAGS  ?= $(OPT) -g
LDLIBS  = -lopenblas -lsymspg -lcjson -lz -lm -lpthread
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
# float-cast-overflow: a double out of an int's range cast to int is undefined; -fsanitize=undefined
# leaves it out
SANFLAGS = -O1 -g -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_LIB_OBJ = $(LIB_SRC:%.c=$(SAN)/%.o)
SAN_TESTS = $(TEST_SRC:tests/%.c=$(SAN)/tests/%)

.PHONY: all test test-c test-python test-mpi python clean install fuzz fuzz-build fuzz-smoke
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

# The Python package (python/, setup.py), built with Debian's python3 (python3-dev, -setuptools,
# -numpy, -pytest) into build/python and tested there.
PYTHON ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
PYLIB = $(BUILD)/python/lib
python:
	$(PYTHON) setup.py -q build --build-base $(BUILD)/python --build-lib $(PYLIB)

test-python: python $(BUILD)/ionhop
	IONHOP_CLI=$(BUILD)/ionhop PYTHONPATH=$(PYLIB) $(PYTHON) -m pytest -q python/tests

test: test-c test-python

# MPI: the optimised MPI build's tests under mpirun -np 2 (tests/mpi/run.sh; as root it adds
# --allow-run-as-root); the dist unit test is also built against MPI and run on two ranks.
ifeq ($(MPI),1)
test-mpi: $(BUILD)/ionhop $(BUILD)/ionhop-bench $(BUILD)/tests/unit/test_dist
	sh tests/mpi/run.sh $(BUILD)/ionhop $(BUILD)/ionhop-bench $(BUILD)/tests/unit/test_dist

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Itests $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libionhop.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libionhop.a $(LDLIBS)
else
test-mpi:
	$(MAKE) MPI=1 test-mpi
endif

install: $(BUILD)/ionhop $(BUILD)/libionhop.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/share/ionhop/models
	install -m 755 $(BUILD)/ionhop $(DESTDIR)$(PREFIX)/bin/ionhop
	install -m 644 $(BUILD)/libionhop.a $(DESTDIR)$(PREFIX)/lib/libionhop.a
	install -m 644 include/ionhop.h include/ionhop_nn.h include/ionhop_modelfile.h include/ionhop_train.h \
	    $(DESTDIR)$(PREFIX)/include/
	install -m 644 models/default.ionhop models/mpt.ionhop $(DESTDIR)$(PREFIX)/share/ionhop/models/

# Fuzzing (clang's libFuzzer, Debian: clang libclang-rt-14-dev libomp-14-dev). `make fuzz-smoke`
# runs every harness for FUZZ_SECONDS (CI: 30); `make fuzz FUZZ_SECONDS=600` is the longer run.
FUZZ      = build-fuzz
FUZZCC   ?= clang
FUZZSAN   = -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined
FUZZFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -fopenmp -ffp-contract=off -Iinclude -Isrc \
            -I/usr/include/x86_64-linux-gnu/openblas-pthread $(FUZZSAN)
FUZZ_READERS = json poscar cif xyz model
FUZZ_SECONDS ?= 30
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=$(FUZZ)/%.o)

$(FUZZ)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ)/libionhop.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_text.h $(FUZZ)/libionhop.a
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer $< $(FUZZ)/libionhop.a $(LDLIBS) -o $@

$(FUZZ)/make_seed_model: fuzz/make_seed_model.c $(FUZZ)/libionhop.a
	$(FUZZCC) $(FUZZFLAGS) $< $(FUZZ)/libionhop.a $(LDLIBS) -o $@

# seed corpora from the fixtures (copied: libFuzzer adds what it finds to the first directory)
$(FUZZ)/seeds.stamp: $(FUZZ)/make_seed_model
	@for r in $(FUZZ_READERS); do mkdir -p $(FUZZ)/corpus/$$r; done
	cp tests/fixtures/io/*.json tests/fixtures/em_jid7.json $(FUZZ)/corpus/json/
	cp tests/fixtures/io/*.vasp examples/*/*.vasp $(FUZZ)/corpus/poscar/
	cp tests/fixtures/io/*.cif $(FUZZ)/corpus/cif/
	cp tests/fixtures/io/*.extxyz $(FUZZ)/corpus/xyz/
	cp tests/fixtures/numpy_written.safetensors $(FUZZ)/corpus/model/
	$(FUZZ)/make_seed_model $(FUZZ)/corpus/model/tiny.ionhop
	@touch $@

fuzz-build: $(FUZZ_READERS:%=$(FUZZ)/fuzz_%) $(FUZZ)/seeds.stamp

fuzz fuzz-smoke: fuzz-build
	@for r in $(FUZZ_READERS); do \
	  echo "fuzz_$$r: $(FUZZ_SECONDS) s"; \
	  ASAN_OPTIONS=detect_leaks=1 OMP_NUM_THREADS=1 $(FUZZ)/fuzz_$$r $(FUZZ)/corpus/$$r \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=20 -rss_limit_mb=4096 \
	    -artifact_prefix=$(FUZZ)/crash-$$r- -print_final_stats=1 2> $(FUZZ)/fuzz_$$r.log \
	    || { tail -40 $(FUZZ)/fuzz_$$r.log; exit 1; }; \
	  grep -E "stat::number_of_executed_units|cov:" $(FUZZ)/fuzz_$$r.log | tail -2; \
	done

clean:
	rm -rf $(BUILD) $(SAN) $(FUZZ) build-mpi

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) $(SAN_LIB_OBJ:.o=.d)
-include $(CLI_SRC:%.c=$(SAN)/%.d) $(BENCH_SRC:%.c=$(SAN)/%.d) $(SAN_TESTS:=.d)
