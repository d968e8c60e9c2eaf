/* train / predict / evaluate / finetune / pretrain / info end to end on tiny models, and the exit
 * codes and one-line messages for bad input. Runs $IONHOP_CLI (make test sets it). */
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cli_util.h"
#include "ionhop_train.h"
#include "core/util.h"

#define TINY "--hidden 8 --alignn-layers 1 --gcn-layers 1 --embed 8 --head-width 8"

int main(void) {
    char dir[] = "/tmp/ionhop-cli-model-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char data[256], model[256], cmd[4096], path[512];
    static char out[1 << 16];
    snprintf(data, sizeof data, "%s/em.json", dir);
    snprintf(model, sizeof model, "%s/m.ionhop", dir);
    ih_structure_set all;
    CHECK(ih_read_json(shared_path("data/em/train.json"), &all) == 0);
    ih_structure sub[12];
    int k = 0;
    for (int i = 0; i < all.n && k < 12; i++)
        if (all.items[i].n_atoms <= 40) sub[k++] = all.items[i];
    CHECK(ih_write_json(data, sub, k) == 0);

    snprintf(cmd, sizeof cmd, "%s train --data %s --out %s --epochs 2 --batch 4 --val 0.25 " TINY, cli(), data, model);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "epoch   2/2") && strstr(out, "val MAE") && strstr(out, "done: 2 epochs"), "%s", out);
    CHECK(access(model, R_OK) == 0);
    {
        char lock[600], m2[600];
        snprintf(lock, sizeof lock, "%s.lock", model);
        CHECK(access(lock, F_OK) != 0); /* a finished run leaves no lock */
        /* a second run on the same --out is refused while the first is alive */
        FILE *f = fopen(lock, "w");
        fprintf(f, "%ld\n", (long)getpid());
        fclose(f);
        snprintf(cmd, sizeof cmd, "%s train --data %s --out %s --epochs 1 --batch 4 --val 0.25 " TINY, cli(), data, model);
        CHECK_INT(run(cmd, out, sizeof out), 1);
        CHECK_MSG(one_line_error(out, "m.ionhop: another run (process") && strstr(out, "is writing it"), "%s", out);
        /* a lock left by a process that is gone is taken over */
        pid_t child = fork();
        if (child == 0) _exit(0);
        waitpid(child, NULL, 0);
        f = fopen(lock, "w");
        fprintf(f, "%ld\n", (long)child);
        fclose(f);
        snprintf(m2, sizeof m2, "%s/m2.ionhop", dir);
        CHECK_INT(run(cmd, out, sizeof out), 0);
        CHECK(access(lock, F_OK) != 0);
        /* and so is one whose process is a zombie (killed, not yet reaped: an aborted MPI rank
         * under a container's init) */
        child = fork();
        if (child == 0) _exit(0);
        char stat_path[64], st[256] = "";
        snprintf(stat_path, sizeof stat_path, "/proc/%ld/stat", (long)child);
        for (int tries = 0; tries < 500 && !strstr(st, ") Z"); tries++) {
            FILE *sf = fopen(stat_path, "r");
            size_t got = sf ? fread(st, 1, sizeof st - 1, sf) : 0;
            st[got] = '\0';
            if (sf) fclose(sf);
            if (!strstr(st, ") Z")) usleep(10000);
        }
        CHECK(strstr(st, ") Z") != NULL);
        f = fopen(lock, "w");
        fprintf(f, "%ld\n", (long)child);
        fclose(f);
        CHECK_INT(run(cmd, out, sizeof out), 0);
        CHECK(access(lock, F_OK) != 0);
        waitpid(child, NULL, 0);
        (void)m2;
    }

    /* the bundled example hop, and the same hop as --ion/--to */
    snprintf(cmd, sizeof cmd, "%s predict --model %s --initial examples/LiFePO4_hop/initial.vasp --final examples/LiFePO4_hop/final.vasp",
             cli(), model);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "Em:") && strstr(out, "Li (atom 1)") && strstr(out, "verdict:"), "%s", out);
    char em1[64] = "";
    const char *e = strstr(out, "Em:");
    if (e) sscanf(e, "Em: %63s", em1);
    snprintf(cmd, sizeof cmd, "%s predict --model %s examples/LiFePO4_hop/initial.vasp --ion 1 --to \"0.75 0.75 0.5\"", cli(), model);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    char em2[64] = "";
    e = strstr(out, "Em:");
    if (e) sscanf(e, "Em: %63s", em2);
    CHECK_MSG(em1[0] && strcmp(em1, em2) == 0, "%s vs %s", em1, em2);
    {
        /* the final state written with its atoms in reverse order (another tool's ordering):
         * matched by position, the same hop and barrier */
        ih_structure fin, rev;
        CHECK(ih_read_structure("examples/LiFePO4_hop/final.vasp", IH_FMT_UNKNOWN, &fin) == 0);
        CHECK(ih_structure_init(&rev, fin.n_atoms) == 0);
        memcpy(rev.lattice, fin.lattice, sizeof rev.lattice);
        for (int i = 0; i < fin.n_atoms; i++) {
            rev.z[i] = fin.z[fin.n_atoms - 1 - i];
            memcpy(rev.frac + 3 * i, fin.frac + 3 * (fin.n_atoms - 1 - i), 3 * sizeof(double));
        }
        snprintf(path, sizeof path, "%s/final_reversed.vasp", dir);
        CHECK(ih_write_poscar(path, &rev) == 0);
        ih_structure_free(&fin);
        ih_structure_free(&rev);
        snprintf(cmd, sizeof cmd, "%s predict --model %s --initial examples/LiFePO4_hop/initial.vasp --final %s", cli(),
                 model, path);
        CHECK_INT(run(cmd, out, sizeof out), 0);
        char em3[64] = "";
        e = strstr(out, "Em:");
        if (e) sscanf(e, "Em: %63s", em3);
        CHECK_MSG(strcmp(em1, em3) == 0 && strstr(out, "Li (atom 1)"), "%s vs %s", em1, out);
    }
    /* the path's closest approach (1.42 Å from O 95, as an independent pymatgen check finds), and
     * the warning for a path straight through that O (destination = its mirror image of the Li) */
    CHECK_MSG(strstr(out, "passes 1.42 Å from O (atom 95)") && !strstr(out, "warning"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s predict --model %s examples/LiFePO4_hop/initial.vasp --ion 1 "
             "--to \"0.459864452 0.75 0.411382854\"", cli(), model);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "passes 0.00 Å from O (atom 95)") && strstr(out, "warning: the straight path passes within"),
              "%s", out);

    /* every distinct Li vacancy hop: listed, written as CSV, and each the same barrier as the hop
     * predicted on its own from its two end points in the cell it is predicted in (the crystal's
     * canonical cell, expanded by the hop-cell rule) */
    snprintf(path, sizeof path, "%s/hops.csv", dir);
    snprintf(cmd, sizeof cmd, "%s predict --model %s examples/LiFePO4_hop/initial.vasp --ion Li --max-hop 4 --out %s",
             cli(), model, path);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "15 sites, space group P-1 (2)") && strstr(out, "symmetry classes") && strstr(out, "hops ->"),
              "%s", out);
    {
        char *hcsv = ih_read_file(path, NULL);
        int from = 0, to_site = 0, count = 0, img[3] = {0, 0, 0};
        double len = 0, appr = 0, em = NAN;
        const char *row = hcsv ? strchr(hcsv, '\n') : NULL;
        const char *head = "from,to,image_a,image_b,image_c,length,closest_approach,count,em,spread\n";
        CHECK(hcsv && !strncmp(hcsv, head, strlen(head)));
        CHECK(row && sscanf(row + 1, "%d,%d,%d,%d,%d,%lf,%lf,%d,%lf", &from, &to_site, &img[0], &img[1], &img[2], &len,
                            &appr, &count, &em) == 9);
        free(hcsv);
        ih_structure host, ini, fin;
        ih_hop *hops;
        int nh, ion = -1;
        ih_hops_info info;
        double dest[3];
        CHECK(ih_read_structure("examples/LiFePO4_hop/initial.vasp", IH_FMT_UNKNOWN, &host) == 0);
        CHECK(ih_hops_enumerate(&host, 3, 4.0, 0.01, &hops, &nh, &info) == 0);
        int pick = -1;
        for (int k = 0; k < nh; k++)
            if (hops[k].from + 1 == from && hops[k].to + 1 == to_site && !memcmp(hops[k].image, img, sizeof img)) pick = k;
        CHECK(pick >= 0 && fabs(hops[pick].length - len) < 1e-3);
        ih_structure canon;
        ih_hop hc;
        double shift[3];
        CHECK(ih_canonical_cell(&host, 0.01, &canon, shift) == 0);
        if (pick >= 0 && ih_hop_to_cell(&host, &hops[pick], &canon, shift, 0.01, &hc) == 0 &&
            ih_hop_cell(&canon, &hc, IH_HOP_MIN_SPACING, &ini, &ion, dest) == 0) {
            CHECK(ih_structure_copy(&fin, &ini) == 0);
            memcpy(fin.frac + 3 * ion, dest, sizeof dest);
            char pa[256], pb[256];
            snprintf(pa, sizeof pa, "%s/hop_a.json", dir), snprintf(pb, sizeof pb, "%s/hop_b.json", dir);
            CHECK(ih_write_json(pa, &ini, 1) == 0 && ih_write_json(pb, &fin, 1) == 0);
            snprintf(cmd, sizeof cmd, "%s predict --model %s --initial %s --final %s", cli(), model, pa, pb);
            CHECK_INT(run(cmd, out, sizeof out), 0);
            const char *e2 = strstr(out, "Em:");
            double em2 = NAN;
            CHECK(e2 && sscanf(e2, "Em: %lf", &em2) == 1 && fabs(em2 - em) < 1.1e-3);
            ih_structure_free(&ini), ih_structure_free(&fin);
        }
        free(hops);
        ih_structure_free(&canon);
        ih_structure_free(&host);
    }
    /* the pristine cell: Pnma; hops through or past another site are listed only with --all */
    snprintf(cmd, sizeof cmd, "%s predict --model %s examples/LiFePO4/LiFePO4.vasp --ion Li --max-hop 6", cli(), model);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "space group Pnma (62) at tolerance 0.1 Å; 224 hops up to 6.0 Å in 7 symmetry classes") &&
              strstr(out, "2.99 Å   1.42 Å     32") && strstr(out, "4.65 Å   1.56 Å     32") &&
              strstr(out, "5 more hop classes pass within 1.0 Å") && !strstr(out, "Å!"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s predict --model %s examples/LiFePO4/LiFePO4.vasp --ion Li --max-hop 6 --all", cli(), model);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "5.97 Å   0.00 Å!") && strstr(out, "warning: 5 hops (!) pass within 1.0 Å") &&
              !strstr(out, "more hop class"), "%s", out);
    /* a 5-image path record is not a host structure */
    {
        char rec[256];
        snprintf(rec, sizeof rec, "%s/one_record.json", dir);
        CHECK(ih_write_json(rec, sub, 1) == 0);
        for (int q = 0; q < 2; q++) {
            snprintf(cmd, sizeof cmd, "%s predict --model %s %s --ion %s", cli(), model, rec, q ? "1 --to \"0 0 0\"" : "Li");
            CHECK_INT(run(cmd, out, sizeof out), 1);
            CHECK_MSG(one_line_error(out, "one_record.json: a 5-image path record"), "%s", out);
        }
    }
    snprintf(cmd, sizeof cmd, "%s predict --model %s examples/LiFePO4_hop/initial.vasp --ion F", cli(), model);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, "initial.vasp: no F site: the structure holds no such atom"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s predict --model %s examples/LiFePO4_hop/initial.vasp --ion Li --max-hop 1", cli(), model);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, "no Li-Li hop up to 1.0"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s predict --model %s examples/LiFePO4_hop/initial.vasp --ion 1 --to \"0 0 0\" --max-hop 3",
             cli(), model);
    CHECK_INT(run(cmd, out, sizeof out), 2);

    snprintf(path, sizeof path, "%s/p.csv", dir);
    snprintf(cmd, sizeof cmd, "%s predict --model %s --data %s --out %s", cli(), model, data, path);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    char *csv = ih_read_file(path, NULL);
    CHECK(csv && strncmp(csv, "jid,target,prediction\n", 22) == 0);
    int lines = 0;
    for (const char *p = csv; p && *p; p++) lines += *p == '\n';
    CHECK_INT(lines, k + 1);
    free(csv);

    /* more records than one prediction chunk (CLI_PREDICT_CHUNK = 128): the file repeated; every
     * copy of a record gets the same line, across the chunk boundary too */
    {
        enum { COPIES = 11 };
        static ih_structure rep[12 * COPIES];
        for (int c = 0; c < COPIES; c++)
            for (int i = 0; i < k; i++) rep[c * k + i] = sub[i];
        char big[256], big_csv[256];
        snprintf(big, sizeof big, "%s/repeated.json", dir);
        snprintf(big_csv, sizeof big_csv, "%s/repeated.csv", dir);
        CHECK(ih_write_json(big, rep, COPIES * k) == 0);
        CHECK(COPIES * k > 128);
        snprintf(cmd, sizeof cmd, "%s predict --model %s --data %s --out %s", cli(), model, big, big_csv);
        CHECK_INT(run(cmd, out, sizeof out), 0);
        char *text = ih_read_file(big_csv, NULL);
        const char *row[12 * COPIES + 1];
        int n_rows = 0;
        for (char *p = text; p && *p && n_rows <= COPIES * k;) {
            char *nl = strchr(p, '\n');
            if (!nl) break;
            *nl = '\0';
            row[n_rows++] = p;
            p = nl + 1;
        }
        CHECK_INT(n_rows, COPIES * k + 1);
        for (int r = 1 + k; r < n_rows; r++) CHECK_MSG(!strcmp(row[r], row[1 + (r - 1) % k]), "row %d: %s vs %s", r, row[r], row[1 + (r - 1) % k]);
        free(text);
        char one[4096];
        snprintf(cmd, sizeof cmd, "%s evaluate --model %s --data %s", cli(), model, data);
        CHECK_INT(run(cmd, one, sizeof one), 0);
        snprintf(cmd, sizeof cmd, "%s evaluate --model %s --data %s", cli(), model, big);
        CHECK_INT(run(cmd, out, sizeof out), 0);
        const char *m1 = strstr(one, "MAE"), *m2 = strstr(out, "MAE");
        CHECK_MSG(m1 && m2 && !strncmp(m1, m2, 40), "%s\nvs\n%s", one, out);
    }

    /* a host structure is not a hop: predict --data and evaluate refuse it */
    for (int q = 0; q < 2; q++) {
        snprintf(cmd, sizeof cmd, "%s %s --model %s --data examples/LiFePO4/LiFePO4.vasp", cli(), q ? "evaluate" : "predict",
                 model);
        CHECK_INT(run(cmd, out, sizeof out), 1);
        CHECK_MSG(one_line_error(out, "LiFePO4.vasp: record 1 is not a 5-image path structure"), "%s", out);
    }

    snprintf(path, sizeof path, "%s/parity.svg", dir);
    snprintf(cmd, sizeof cmd, "%s evaluate --model %s --data %s --plot %s", cli(), model, data, path);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "MAE") && strstr(out, "R²") && strstr(out, "precision") && strstr(out, "true good"), "%s", out);
    char *svg = ih_read_file(path, NULL);
    CHECK(svg && strstr(svg, "<svg") && strstr(svg, "<circle") && strstr(svg, "MAE") && strstr(svg, "both below 0.65 eV"));
    CHECK(svg && !strstr(svg, "Note:")); /* an uncalibrated model does not say what it was trained on */
    free(svg);
    /* calibrated with twelve hand-written cross-validation rows and its own training records as the
     * domain: evaluate then reports the interval's coverage and that these records were training
     * data, and the plot draws the intervals and says so */
    {
        char cv[256], cal[256];
        snprintf(cv, sizeof cv, "%s/cv.csv", dir);
        snprintf(cal, sizeof cal, "%s/calibrated.ionhop", dir);
        FILE *f = fopen(cv, "w");
        fprintf(f, "jid,fold,target,prediction,spread\n");
        for (int i = 0; i < 12; i++) fprintf(f, "r%d,%d,%.2f,0.5,0\n", i, i % 3 + 1, 0.2 + 0.05 * i);
        fclose(f);
        snprintf(cmd, sizeof cmd, "%s calibrate %s --cv %s --members 1 --data %s --out %s", cli(), model, cv, data, cal);
        CHECK_INT(run(cmd, out, sizeof out), 0);
        snprintf(cmd, sizeof cmd, "%s evaluate --model %s --data %s --plot %s", cli(), cal, data, path);
        CHECK_INT(run(cmd, out, sizeof out), 0);
        CHECK_MSG(strstr(out, "90 % calibrated interval covers") && strstr(out, "were in the model's training data"),
                  "%s", out);
        svg = ih_read_file(path, NULL);
        CHECK(svg && strstr(svg, "90 % calibrated interval") && strstr(svg, "Note:") && strstr(svg, "training data"));
        free(svg);
        /* calibration data that cannot be used: one line, non-zero exit */
        f = fopen(cv, "w");
        fprintf(f, "jid,fold,target,prediction,spread\nr1,1,nan,0.3,0\n");
        fclose(f);
        snprintf(cmd, sizeof cmd, "%s calibrate %s --cv %s --out %s", cli(), model, cv, cal);
        CHECK_INT(run(cmd, out, sizeof out), 1);
        CHECK_MSG(one_line_error(out, "cv.csv: line 2: not five finite fields"), "%s", out);
    }

    snprintf(cmd, sizeof cmd, "%s info %s", cli(), model);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "\"hidden\": 8") && strstr(out, "\"input\": \"5-image\""), "%s", out);

    /* fine-tuning from a pre-trained trunk, with 2-fold grouped CV and a 2-member ensemble */
    char mpt[256];
    snprintf(mpt, sizeof mpt, "%s/mpt.ionhop", dir);
    snprintf(cmd, sizeof cmd, "%s pretrain --task a=%s --task b=%s --out %s --epochs 1 --batch 4 --cache %s " TINY,
             cli(), data, data, mpt, dir);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "2 tasks") && strstr(out, "val MAE"), "%s", out);
    /* a single-task trunk on the same split: task b's records only, one head */
    snprintf(path, sizeof path, "%s/single.ionhop", dir);
    snprintf(cmd, sizeof cmd, "%s pretrain --task a=%s --task b=%s --only b --out %s --epochs 1 --batch 4 --cache %s " TINY,
             cli(), data, data, path, dir);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    int only_tr = -1, only_va = -1, all_tr = -1, all_va = -1, all_n = -1;
    const char *line = strstr(out, "--only b: ");
    CHECK_MSG(line && sscanf(line, "--only b: %d train and %d validation", &only_tr, &only_va) == 2, "%s", out);
    line = strstr(out, "2 tasks, ");
    CHECK_MSG(line && sscanf(line, "2 tasks, %d records (%d train, %d validation", &all_n, &all_tr, &all_va) == 3, "%s", out);
    /* both files hold the same records, so task b owns half of each side of the split */
    CHECK_INT(only_tr + only_va, all_n / 2);
    CHECK_INT(2 * only_va, all_va);
    CHECK_INT(2 * only_tr, all_tr);
    snprintf(cmd, sizeof cmd, "%s info %s", cli(), path);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "\"name\": \"b\"") && !strstr(out, "\"name\": \"a\""), "%s", out);
    /* a two-property model: predict --data gives one column per property (no target column: the
     * file's target belongs to neither), evaluate refuses it */
    snprintf(cmd, sizeof cmd, "%s predict --model %s --data %s", cli(), mpt, data);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(!strncmp(out, "jid,a,b\n", 8), "%s", out);
    {
        int rows = 0, cols_ok = 1;
        for (const char *p = strchr(out, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
            int commas = 0;
            for (const char *q = p + 1; *q && *q != '\n'; q++) commas += *q == ',';
            cols_ok &= commas == 2;
            rows++;
        }
        CHECK_INT(rows, k);
        CHECK(cols_ok);
    }
    snprintf(cmd, sizeof cmd, "%s evaluate --model %s --data %s", cli(), mpt, data);
    CHECK_INT(run(cmd, out, sizeof out), 2);
    CHECK_MSG(one_line_error(out, "predicts 2 properties: evaluate scores one-target models"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s pretrain --task a=%s --only c --out %s --epochs 1", cli(), data, path);
    CHECK_INT(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s finetune --init %s --data %s --folds 2 --ensemble 2 --epochs 1 --batch 4 --cv-out %s/cv.csv",
             cli(), mpt, data, dir);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "2-fold grouped cross-validation") && strstr(out, "ensemble mean") && strstr(out, "MAE per fold"), "%s", out);
    { /* each fold's line, printed as it ends, agrees with the summary computed from the whole CSV */
        const char *per = strstr(out, "MAE per fold (eV):");
        double summary[2] = {-1, -1}, line_mae;
        CHECK(per && sscanf(per, "MAE per fold (eV): %lf %lf", &summary[0], &summary[1]) == 2);
        for (int fo = 0; fo < 2; fo++) {
            char head[64];
            snprintf(head, sizeof head, "fold %d/2: held-out MAE ", fo + 1);
            const char *at = strstr(out, head);
            CHECK_MSG(at && sscanf(at + strlen(head), "%lf", &line_mae) == 1, "%s", out);
            if (at) CHECK_MSG(fabs(line_mae - summary[fo]) < 1.5e-3, "fold %d: %g vs %g", fo + 1, line_mae, summary[fo]);
        }
    }
    /* an interrupted cross-validation resumes after its finished folds with the same result */
    char edited[256]; /* the same records, one target changed */
    snprintf(edited, sizeof edited, "%s/em_edited.json", dir);
    sub[0].target += 0.1;
    CHECK(ih_write_json(edited, sub, k) == 0);
    sub[0].target -= 0.1;
    static const char *const cv_runs[][4] = {
        /* csv, extra flags, expected exit code, data (0: the data, 1: edited) */
        {"cvA", "--epochs 1", "0", "0"},
        {"cvB", "--epochs 1 --stop-after-fold 1", "0", "0"},
        {"cvB", "--epochs 2 --resume", "1", "0"}, /* another run's progress file */
        {"cvB", "--epochs 1 --resume", "1", "1"}, /* … or other data under the settings */
        {"cvB", "--epochs 1 --resume", "0", "0"},
    };
    for (int q = 0; q < 5; q++) {
        /* the cvB runs also keep their fold models as an ensemble (--out) */
        snprintf(cmd, sizeof cmd, "%s finetune --init %s --data %s --folds 2 --batch 4 --cv-out %s/%s.csv %s%s%s%s",
                 cli(), mpt, atoi(cv_runs[q][3]) ? edited : data, dir, cv_runs[q][0], cv_runs[q][1],
                 q ? " --out " : "", q ? dir : "", q ? "/cvB.ionhop" : "");
        CHECK_INT(run(cmd, out, sizeof out), atoi(cv_runs[q][2]));
        snprintf(path, sizeof path, "%s/cvB.csv.partial", dir);
        char fold1[512], ens[512];
        snprintf(fold1, sizeof fold1, "%s/cvB.ionhop.fold1", dir);
        snprintf(ens, sizeof ens, "%s/cvB.ionhop", dir);
        if (q == 1) {
            CHECK_MSG(strstr(out, "stopped after fold 1") && !strstr(out, "fold 2/2"), "%s", out);
            CHECK(access(path, F_OK) == 0);
            CHECK(access(fold1, F_OK) == 0 && access(ens, F_OK) != 0);
            snprintf(path, sizeof path, "%s/cvB.csv", dir);
            CHECK(access(path, F_OK) != 0);
        } else if (q == 2 || q == 3) { /* after the data-loading line, the one error line */
            CHECK_MSG(strstr(out, "\nionhop: ") && strstr(out, "cvB.csv.partial: written by a different cross-validation run"), "%s", out);
        } else if (q == 4) {
            CHECK_MSG(strstr(out, "resuming: 1 of 2 folds done") && strstr(out, "fold 2/2") && !strstr(out, "fold 1/2"), "%s", out);
            CHECK_MSG(strstr(out, "the 2 fold models"), "%s", out);
            /* the fold ensemble is calibrated from its own held-out predictions, its records its domain */
            CHECK_MSG(strstr(out, "calibrated from its own cross-validated predictions"), "%s", out);
            CHECK(access(path, F_OK) != 0);
            CHECK(access(fold1, F_OK) != 0 && access(ens, F_OK) == 0);
            /* the fold ensemble predicts with each member's own scaling */
            snprintf(cmd, sizeof cmd, "%s info %s", cli(), ens);
            CHECK_INT(run(cmd, out, sizeof out), 0);
            CHECK_MSG(strstr(out, "member_scaling"), "%s", out);
            CHECK_MSG(strstr(out, "\"calibration\"") && strstr(out, "training domain: ") &&
                      strstr(out, "split conformal"), "%s", out);
            snprintf(cmd, sizeof cmd, "%s predict --model %s --initial examples/LiFePO4_hop/initial.vasp "
                     "--final examples/LiFePO4_hop/final.vasp", cli(), ens);
            CHECK_INT(run(cmd, out, sizeof out), 0);
            CHECK_MSG(strstr(out, "spread of 2 ensemble members") && strstr(out, "90 % central interval"), "%s", out);
        }
    }
    {
        char pa[256], pb[256];
        snprintf(pa, sizeof pa, "%s/cvA.csv", dir), snprintf(pb, sizeof pb, "%s/cvB.csv", dir);
        char *ca = ih_read_file(pa, NULL), *cb = ih_read_file(pb, NULL);
        CHECK(ca && cb && strcmp(ca, cb) == 0);
        free(ca), free(cb);
    }
    /* split by record: named in the output, with its own progress key (a host-grouped file is refused) */
    snprintf(cmd, sizeof cmd, "%s finetune --init %s --data %s --folds 2 --batch 4 --epochs 1 --stop-after-fold 1 "
             "--cv-out %s/cvD.csv", cli(), mpt, data, dir);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "%s finetune --init %s --data %s --folds 2 --batch 4 --epochs 1 --group-by record "
             "--cv-out %s/cvD.csv --resume", cli(), mpt, data, dir);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(strstr(out, "cvD.csv.partial: written by a different cross-validation run"), "%s", out);
    /* a learning-curve run: fewer training records per fold, whole hosts, its own progress key */
    snprintf(cmd, sizeof cmd, "%s finetune --init %s --data %s --folds 2 --batch 4 --epochs 1 --train-fraction 0.5 "
             "--cv-out %s/cvD.csv --resume", cli(), mpt, data, dir);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(strstr(out, "cvD.csv.partial: written by a different cross-validation run"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s finetune --init %s --data %s --folds 2 --batch 4 --epochs 1 --train-fraction 0.5 "
             "--stop-after-fold 1 --cv-out %s/cvF.csv", cli(), mpt, data, dir);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    {
        const char *at = strstr(out, "fold 1/2: ");
        int used = -1, pool = -1, held = -1;
        CHECK_MSG(at && sscanf(at, "fold 1/2: %d train+val (--train-fraction 0.5 of %d), %d held out", &used, &pool,
                               &held) == 3, "%s", out);
        CHECK_MSG(used >= (pool + 1) / 2 && used < pool && pool + held == k, "%d of %d, %d held out", used, pool, held);
    }
    snprintf(cmd, sizeof cmd, "%s finetune --init %s --data %s --out %s/x.ionhop --train-fraction 0.5", cli(), mpt,
             data, dir);
    CHECK_INT(run(cmd, out, sizeof out), 2);
    CHECK_MSG(strstr(out, "--train-fraction goes with --folds"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s finetune --init %s --data %s --folds 2 --batch 4 --epochs 1 --group-by record "
             "--cv-out %s/cvR.csv", cli(), mpt, data, dir);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "split by record, not by host") && strstr(out, "2-fold record-split cross-validation"),
              "%s", out);
    snprintf(cmd, sizeof cmd, "%s finetune --init %s --data %s --folds 2 --group-by hosts --cv-out %s/cvC.csv", cli(),
             mpt, data, dir);
    CHECK_INT(run(cmd, out, sizeof out), 2);
    snprintf(path, sizeof path, "%s/ft.ionhop", dir);
    snprintf(cmd, sizeof cmd, "%s finetune --init %s --data %s --out %s --ensemble 2 --epochs 1 --batch 4", cli(), mpt, data, path);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "%s predict --model %s --initial examples/LiFePO4_hop/initial.vasp --final examples/LiFePO4_hop/final.vasp",
             cli(), path);
    CHECK_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "spread of 2 ensemble members"), "%s", out);
    /* --trunk-lr 0: the trunk keeps the pre-trained weights; 0.5 moves it */
    for (int q = 0; q < 2; q++) {
        snprintf(path, sizeof path, "%s/ft_trunk%d.ionhop", dir, q);
        snprintf(cmd, sizeof cmd, "%s finetune --init %s --data %s --out %s --epochs 2 --batch 4 --trunk-lr %s", cli(),
                 mpt, data, path, q ? "0.5" : "0");
        CHECK_INT(run(cmd, out, sizeof out), 0);
        ih_model *pre = ih_model_load(mpt, NULL), *ft = ih_model_load(path, NULL);
        CHECK(pre && ft);
        int same_trunk = 0, trunk = 0, has_head = 0;
        for (int i = 0; pre && ft && i < ih_model_n_tensors(ft); i++) {
            const ih_tensor_info *t = ih_model_tensor(ft, i);
            int j = ih_model_find_tensor(pre, t->name);
            if (ih_param_is_trunk(t->name)) {
                const ih_tensor_info *u = j >= 0 ? ih_model_tensor(pre, j) : NULL;
                trunk++;
                same_trunk += u && u->numel == t->numel &&
                              !memcmp(ih_model_params(ft) + t->offset, ih_model_params(pre) + u->offset,
                                      t->numel * sizeof(float));
            } else if (!strncmp(t->name, "fc_out", 6) || !strncmp(t->name, "fc.", 3)) {
                has_head = 1; /* the new head: only in the fine-tuned model */
            }
        }
        CHECK(trunk > 20 && has_head);
        if (q == 0) CHECK_INT(same_trunk, trunk);
        else CHECK(same_trunk < trunk);
        ih_model_free(pre), ih_model_free(ft);
    }
    snprintf(cmd, sizeof cmd, "%s finetune --data %s --out %s/x.ionhop --trunk-lr 0.1", cli(), data, dir);
    CHECK_INT(run(cmd, out, sizeof out), 2);

    /* bad input: exit 1 with one line naming the file */
    snprintf(cmd, sizeof cmd, "%s predict --model %s --initial examples/LiFePO4_hop/initial.vasp --final examples/LiFePO4_hop/initial.vasp", cli(), model);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, "no atom moves"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s predict --model %s --initial examples/LiFePO4_hop/initial.vasp", cli(), model);
    CHECK_INT(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s predict --model %s --initial examples/LiFePO4_hop/initial.vasp --final %s", cli(), data, data);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, data), "%s", out);
    snprintf(cmd, sizeof cmd, "%s evaluate --model %s --data %s/nothing.json", cli(), model, dir);
    CHECK_INT(run(cmd, out, sizeof out), 1);
    CHECK_MSG(one_line_error(out, "nothing.json"), "%s", out);
    /* --ion/--to mistakes: one line each, naming the option and the bad value */
    {
        static const struct {
            const char *args, *needle;
        } bad[] = {
            {"--ion 500 --to \"0 0 0\"", "--ion 500: examples/LiFePO4_hop/initial.vasp has atoms 1..111"},
            {"--ion 0 --to \"0 0 0\"", "has atoms 1..111"},
            {"--ion Xx", "'Xx' is neither an atom number nor an element symbol"},
            {"--ion 3", "--ion 3 (an atom number) needs its destination"},
            {"--ion Li --to \"0 0 0\"", "--to goes with --ion INDEX"},
            {"--ion 1 --to \"0.5 0.5\"", "--to needs three finite fractional coordinates"},
            {"--ion 1 --to \"0.5 nan 0\"", "not '0.5 nan 0'"},
        };
        /* an occupied destination: atom 2's own site */
        snprintf(cmd, sizeof cmd, "%s predict --model %s examples/LiFePO4/LiFePO4.vasp --ion 1 --to \"0 0 0\"",
                 cli(), model);
        CHECK_INT(run(cmd, out, sizeof out), 1);
        CHECK_MSG(one_line_error(out, "LiFePO4.vasp with atom 1 moved to (0 0 0): atoms 1 (Li) and 2 (Li) overlap"),
                  "%s", out);
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            snprintf(cmd, sizeof cmd, "%s predict --model %s examples/LiFePO4_hop/initial.vasp %s", cli(), model, bad[k].args);
            CHECK_INT(run(cmd, out, sizeof out), 2);
            CHECK_MSG(one_line_error(out, bad[k].needle), "%s -> %s", bad[k].args, out);
        }
        snprintf(cmd, sizeof cmd, "%s predict --model %s --data %s --ion 1", cli(), model, data);
        CHECK_INT(run(cmd, out, sizeof out), 2);
        CHECK_MSG(one_line_error(out, "--ion and --to go with STRUCTURE"), "%s", out);
    }
    snprintf(cmd, sizeof cmd, "%s train --data %s --out %s/x.ionhop --epochs 0", cli(), data, dir);
    CHECK_INT(run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s finetune --data %s --out %s/x.ionhop --arch model9", cli(), data, dir);
    CHECK_INT(run(cmd, out, sizeof out), 2);
    /* a model trained on bulk properties is not a barrier model */
    snprintf(cmd, sizeof cmd, "%s predict --model %s --initial examples/LiFePO4_hop/initial.vasp --final examples/LiFePO4_hop/final.vasp", cli(), mpt);
    CHECK(run(cmd, out, sizeof out) != 0);
    CHECK_MSG(one_line_error(out, "not a migration-barrier model"), "%s", out);

    ih_structure_set_free(&all);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    /* launched as one of several processes (mpirun sets OMPI_COMM_WORLD_SIZE, PMI launchers
     * PMI_SIZE), a one-process command refuses to run rather than run once per process, and a
     * training command of this one-process build refuses too */
    {
        char cmd[1024], out[4096];
        snprintf(cmd, sizeof cmd, "OMPI_COMM_WORLD_SIZE=2 %s info models/mpt.ionhop", cli());
        CHECK_INT(run(cmd, out, sizeof out), 2);
        CHECK_MSG(one_line_error(out, "info runs as one process, but was launched as one of 2"), "%s", out);
        snprintf(cmd, sizeof cmd, "PMI_SIZE=3 %s predict --initial examples/LiFePO4_hop/initial.vasp "
                                  "--final examples/LiFePO4_hop/final.vasp", cli());
        CHECK_INT(run(cmd, out, sizeof out), 2);
        CHECK_MSG(one_line_error(out, "predict runs as one process, but was launched as one of 3"), "%s", out);
        snprintf(cmd, sizeof cmd, "OMPI_COMM_WORLD_SIZE=2 %s train --data tests/fixtures/em_jid7.json --out /nonexistent/x",
                 cli());
        int rc = run(cmd, out, sizeof out);
        CHECK(rc != 0);
        CHECK_MSG(strstr(out, "built without MPI") != NULL || strstr(out, "make MPI=1") != NULL, "%s", out);
    }
    return test_summary("test_cli_model");
}
