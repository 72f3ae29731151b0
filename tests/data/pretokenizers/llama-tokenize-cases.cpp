// Prints llama.cpp's token ids for test strings: one line of space-separated ids per string.
// Usage: llama-tokenize-cases VOCAB.gguf CASES.inp   (strings separated by "\n__ggml_vocab_test__\n", as llama.cpp's
// models/ggml-vocab-*.gguf.inp). No BOS/EOS added, special tokens not parsed: the same call as test-tokenizer-0.
#include "llama.h"
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

static void quiet(ggml_log_level, const char *, void *) {}

int main(int argc, char ** argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s VOCAB.gguf CASES.inp\n", argv[0]); return 2; }
    llama_log_set(quiet, nullptr);
    llama_backend_init();
    auto params = llama_model_default_params();
    params.vocab_only = true;
    llama_model * model = llama_model_load_from_file(argv[1], params);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    std::ifstream in(argv[2], std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string sep = "\n__ggml_vocab_test__\n";
    size_t pos = 0;
    while (pos < all.size()) {
        size_t end = all.find(sep, pos);
        // the last string may lack the separator (ggml-vocab-gemma-4.gguf.inp)
        std::string text = all.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        pos = end == std::string::npos ? all.size() : end + sep.size();
        std::vector<llama_token> ids(text.size() * 4 + 16);
        int n = llama_tokenize(vocab, text.data(), (int) text.size(), ids.data(), (int) ids.size(), false, false);
        if (n < 0) { fprintf(stderr, "tokenize failed\n"); return 1; }
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
    llama_model_free(model);
    return 0;
}
