/*
 * aggregate_test.h — helpers shared by the unit tests of src/aggregate.
 */
#ifndef PORTICO_TESTS_AGGREGATE_TEST_H
#define PORTICO_TESTS_AGGREGATE_TEST_H

#include "aggregate/value.h"

static util_buf_t aggregate_test_text_;

/* Compact JSON of |v| (valid until the next call), or NULL for NULL. */
static inline const char *text_of(const aggregate_value_t *v)
{
    aggregate_test_text_.len = 0;
    if (v == NULL)
        return NULL;
    aggregate_value_write(&aggregate_test_text_, v);
    util_buf_putc(&aggregate_test_text_, '\0');
    return (const char *)aggregate_test_text_.data;
}

/* Frees what text_of kept, at the end of main(). */
static inline void text_of_dispose(void)
{
    util_buf_dispose(&aggregate_test_text_);
}

#endif
