import XCTest
@testable import GlossaTensor

/// Tokenizer commands stop OpenBLAS's idle workers; a later threaded sgemm must restart them and stay correct.
/// An XCTest on purpose: XCTest cases run one at a time before the (parallel) Swift Testing tests, and stopping
/// the workers while another thread is inside a BLAS call is not allowed.
final class BLASThreadShutdownTests: XCTestCase {
    func testSgemmWorksAfterStoppingIdleThreads() {
        BLASRuntime.stopIdleThreads()
        BLASRuntime.stopIdleThreads()
        XCTAssertLessThan(BLASRuntime.selfCheck(m: 320, n: 288, k: 256), 1e-5)
        BLASRuntime.stopIdleThreads()
        XCTAssertLessThan(BLASRuntime.selfCheck(m: 256, n: 256, k: 300), 1e-5)
    }
}
