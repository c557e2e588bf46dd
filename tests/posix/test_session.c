/* test_session.c - POSIX: the process group and session a child starts in: the parent's by default,
 * its own group with options.kill_tree, its own session with options.detached. */
#include "cptest.h"

#include <unistd.h>

typedef struct ids {
  long pid, pgid, sid;
} ids;

static ids child_ids(const cp_options *o) {
  const char *args[] = {"ids", NULL};
  cp_result r;
  cptest_assert_rc(cptest_run(args, o, &r), &r, CP_OK);
  ids v = {0, 0, 0};
  assert_int_equal(sscanf(r.out.data, "%ld %ld %ld", &v.pid, &v.pgid, &v.sid), 3);
  assert_int_equal(v.pid, r.pid);
  cp_result_free(&r);
  return v;
}

static void session_child_shares_the_parents_group_by_default(void **state) {
  (void)state;
  ids v = child_ids(NULL);
  assert_int_equal(v.pgid, (long)getpgid(0));
  assert_int_equal(v.sid, (long)getsid(0));
}

static void session_kill_tree_child_leads_its_own_group(void **state) {
  (void)state;
  cp_options o = {.kill_tree = true};
  ids v = child_ids(&o);
  assert_int_equal(v.pgid, v.pid);
  assert_int_equal(v.sid, (long)getsid(0));
}

static void session_detached_child_leads_its_own_session(void **state) {
  (void)state;
  cp_options o = {.detached = true};
  ids v = child_ids(&o);
  assert_int_equal(v.sid, v.pid);
  assert_int_equal(v.pgid, v.pid);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(session_child_shares_the_parents_group_by_default),
      cmocka_unit_test(session_kill_tree_child_leads_its_own_group),
      cmocka_unit_test(session_detached_child_leads_its_own_session),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
