// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Glossa",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "glossa", targets: ["glossa"]),
        .library(name: "GlossaTokenizers", targets: ["GlossaTokenizers"]),
        .library(name: "GlossaTensor", targets: ["GlossaTensor"]),
        .library(name: "GlossaWeights", targets: ["GlossaWeights"]),
        .library(name: "GlossaModels", targets: ["GlossaModels"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries. CICU is imported only by GlossaUnicode; COpenBLAS only by GlossaTensor.
        .systemLibrary(name: "CICU", pkgConfig: "icu-uc", providers: [.apt(["libicu-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // ICU behind a stdlib-only API (no Foundation: it carries its own ICU).
        .target(name: "GlossaUnicode", dependencies: ["CICU", "CUTF8"]),
        // Two C shims for what Swift cannot say: byte scans with SSE2/SSSE3 compares and shuffles (UTF-8
        // validation, the block scanner's classes, a three-byte prefilter; Swift's SIMD types do not compile to
        // them) and a prefetch hint (static inline). For valgrind 3.19, which cannot read clang's
        // DWARF 5, build with `-Xcc -gdwarf-4` (Docs/performance.md); no unsafe flags here, so that other packages
        // can depend on this one.
        .target(name: "CUTF8"),
        .target(name: "CPrefetch"),
        // A byte-level JSON reader/writer (fast tokenizer.json loading).
        .target(name: "GlossaJSON"),
        // Raw file formats: tiktoken ranks, GPT-2 encoder.json/vocab.bpe, SentencePiece ModelProto.
        .target(name: "GlossaFormats", dependencies: ["GlossaJSON"]),
        // The tokenizer pipeline: normalizers, pre-tokenizers, models, post-processors, decoders.
        // Pre-tokenization: hand-written scanners for the known split regexes, ICU for the rest.
        .target(name: "GlossaPatterns", dependencies: ["GlossaUnicode", "CUTF8"]),
        .target(name: "GlossaTokenizers", dependencies: ["GlossaUnicode", "GlossaJSON", "GlossaFormats", "GlossaPatterns", "CPrefetch", "CUTF8"]),
        // BPE training: streaming corpus readers (zlib for gzip), parallel pre-token counting, HF-exact merges.
        .target(name: "GlossaTraining", dependencies: ["GlossaTokenizers", "GlossaPatterns", "GlossaUnicode", "GlossaFormats", "GlossaJSON", "CZlib"]),
        // Tensors on OpenBLAS.
        .target(name: "GlossaTensor", dependencies: ["COpenBLAS"]),
        // Checkpoint formats: safetensors (mmap, sharded), GGUF (dequantization), HF model directories.
        .target(name: "GlossaWeights", dependencies: ["GlossaTensor"]),
        // Llama-family causal LM: forward/backward, KV-cache generation, bits-per-byte evaluation.
        .target(name: "GlossaModels", dependencies: ["GlossaTensor", "GlossaWeights", "GlossaTokenizers"]),
        .target(name: "GlossaVocabulary", dependencies: ["GlossaTraining", "GlossaTokenizers", "GlossaFormats", "GlossaJSON"]),
        .target(name: "GlossaInit", dependencies: ["GlossaTensor", "GlossaWeights", "GlossaModels", "GlossaTokenizers", "GlossaFormats", "GlossaJSON"]),

        .executableTarget(name: "glossa", dependencies: [
            "GlossaTokenizers", "GlossaTensor", "GlossaWeights", "GlossaModels", "GlossaTraining", "GlossaInit", "GlossaVocabulary",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "GlossaUnicodeTests", dependencies: ["GlossaUnicode"]),
        .testTarget(name: "GlossaJSONTests", dependencies: ["GlossaJSON"]),
        .testTarget(name: "GlossaFormatsTests", dependencies: ["GlossaFormats"]),
        .testTarget(name: "GlossaTokenizersTests", dependencies: ["GlossaTokenizers"]),
        .testTarget(name: "GlossaPatternsTests", dependencies: ["GlossaPatterns", "GlossaUnicode"],
                    exclude: ["Fixtures", "make_fixtures.py"]),
        .testTarget(name: "GlossaTensorTests", dependencies: ["GlossaTensor"]),
        .testTarget(name: "GlossaTrainingTests", dependencies: ["GlossaTraining"], exclude: ["Fixtures"]),
        .testTarget(name: "GlossaWeightsTests", dependencies: ["GlossaWeights", "GlossaTensor"], exclude: ["Fixtures"]),
        .testTarget(name: "GlossaVocabularyTests", dependencies: ["GlossaVocabulary", "GlossaFormats"]),
        .testTarget(name: "GlossaInitTests", dependencies: ["GlossaInit", "GlossaFormats"]),
        .testTarget(name: "GlossaModelsTests", dependencies: ["GlossaModels", "GlossaWeights", "GlossaTensor"]),
    ],
    swiftLanguageModes: [.v6]
)
