import Foundation
import VAETraining

/// How `vae train` talks: a live progress bar on a terminal, one plain line
/// per epoch otherwise (logs, pipes, CI).
final class TrainingReporter {
    let totalEpochs: Int
    let isTerminal = isatty(STDOUT_FILENO) != 0
    private var lastDraw = 0.0

    init(totalEpochs: Int) { self.totalEpochs = totalEpochs }

    func say(_ line: String) {
        print(line)
        fflush(stdout)
    }

    func progress(_ p: BatchProgress) {
        guard isTerminal, p.elapsed - lastDraw >= 0.1 || p.batch == p.batches else { return }
        lastDraw = p.elapsed
        let width = 30
        let filled = width * p.batch / p.batches
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let eta = p.elapsed / Double(p.batch) * Double(p.batches - p.batch)
        print(String(format: "\repoch %d/%d %@ %d/%d  loss %.2f  %.0f samples/s  ETA %.0fs\u{1B}[K",
                     p.epoch, totalEpochs, bar, p.batch, p.batches, p.runningLoss, p.samplesPerSecond, eta),
              terminator: "")
        fflush(stdout)
        if p.batch == p.batches { lastDraw = 0 }
    }

    /// Clears the progress bar's line (on a terminal).
    func clearLine() {
        if isTerminal { print("\r\u{1B}[K", terminator: "") }
    }

    func epochFinished(_ r: EpochReport) {
        clearLine()
        if let usage = r.codebook {
            // A VQ-VAE: no bound until it has a prior; the codebook distance and its use instead.
            let parts = r.test.terms.map { String(format: "%@ %.3f", $0.label, r.test.perSample($0)) }.joined(separator: ", ")
            say(String(format: "epoch %2d/%d  train loss %.3f  test %@, perplexity %.1f, %d codes in use  %.0f samples/s  %.2fs",
                       r.epoch, totalEpochs, r.trainLoss, parts, usage.perplexity, usage.codesInUse, r.samplesPerSecond, r.trainSeconds))
            return
        }
        let parts = r.test.boundTerms.map { String(format: "%@ %.3f", $0.label, r.test.perSample($0)) }.joined(separator: " + ")
        say(String(format: "epoch %2d/%d  train loss %.3f  test -ELBO %.3f (%@)  %.0f samples/s  %.2fs",
                   r.epoch, totalEpochs, r.trainLoss, r.test.boundPerSample, parts, r.samplesPerSecond, r.trainSeconds))
    }
}
