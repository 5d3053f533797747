// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Glossa",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "glossa", targets: ["glossa"]),
        .library(name: "GlossaTokenizers", targets: ["GlossaTokenizers"]),
        .library(name: "GlossaTensor", targets: ["GlossaTensor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries. CICU is imported only by GlossaUnicode; COpenBLAS only by GlossaTensor.
        .systemLibrary(name: "CICU", pkgConfig: "icu-uc", providers: [.apt(["libicu-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // ICU behind a stdlib-only API (no Foundation: it carries its own ICU).
        .target(name: "GlossaUnicode", dependencies: ["CICU"]),
        // A byte-level JSON reader/writer (fast tokenizer.json loading).
        .target(name: "GlossaJSON"),
        // Raw file formats: tiktoken ranks, GPT-2 encoder.json/vocab.bpe, SentencePiece ModelProto.
        .target(name: "GlossaFormats", dependencies: ["GlossaJSON"]),
        // The tokenizer pipeline: normalizers, pre-tokenizers, models, post-processors, decoders.
        // Pre-tokenization: hand-written scanners for the known split regexes, ICU for the rest.
        .target(name: "GlossaPatterns", dependencies: ["GlossaUnicode"]),
        .target(name: "GlossaTokenizers", dependencies: ["GlossaUnicode", "GlossaJSON", "GlossaFormats", "GlossaPatterns"]),
        // Tensors on OpenBLAS.
        .target(name: "GlossaTensor", dependencies: ["COpenBLAS"]),

        .executableTarget(name: "glossa", dependencies: [
            "GlossaTokenizers", "GlossaTensor",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "GlossaUnicodeTests", dependencies: ["GlossaUnicode"]),
        .testTarget(name: "GlossaJSONTests", dependencies: ["GlossaJSON"]),
        .testTarget(name: "GlossaFormatsTests", dependencies: ["GlossaFormats"]),
        .testTarget(name: "GlossaTokenizersTests", dependencies: ["GlossaTokenizers"]),
        .testTarget(name: "GlossaPatternsTests", dependencies: ["GlossaPatterns", "GlossaUnicode"],
                    exclude: ["Fixtures", "make_fixtures.py"]),
        .testTarget(name: "GlossaTensorTests", dependencies: ["GlossaTensor"]),
    ],
    swiftLanguageModes: [.v6]
)
