import Foundation
import VAEData
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
        say(String(format: "epoch %2d/%d  train loss %.3f  test -ELBO %.3f (recon %.3f + KL %.3f)  %.0f samples/s  %.2fs",
                   r.epoch, totalEpochs, r.trainLoss, r.test.negativeELBOPerSample,
                   r.test.reconstructionPerSample, r.test.klPerSample, r.samplesPerSecond, r.trainSeconds))
    }
}

/// The per-epoch figures of a run, rewritten (atomically) as JSON after each epoch.
struct TrainingLog {
    let path: String?
    let settings: TrainingSettings
    let info: CheckpointInfo
    var epochs: [[String: Any]] = []
    var peakResidentMiB: Double?

    init(path: String?, settings: TrainingSettings, info: CheckpointInfo) {
        self.path = path
        self.settings = settings
        self.info = info
    }

    mutating func finish(peakResidentMiB: Double) throws {
        self.peakResidentMiB = peakResidentMiB
        try write()
    }

    mutating func append(_ r: EpochReport) throws {
        epochs.append([
            "epoch": r.epoch, "train_loss": r.trainLoss,
            "train_recon": r.train.reconstructionPerSample, "train_kl": r.train.klPerSample,
            "test_nelbo": r.test.negativeELBOPerSample, "test_recon": r.test.reconstructionPerSample,
            "test_kl": r.test.klPerSample, "train_seconds": r.trainSeconds, "samples_per_s": r.samplesPerSecond,
        ])
        try write()
    }

    private func write() throws {
        guard let path else { return }
        let c = info.configuration
        let document: [String: Any] = [
            "config": ["arch": c.arch, "hidden": c.hidden, "latent": c.latent, "loss": c.likelihood.rawValue,
                       "beta": Double(settings.beta), "lr": Double(settings.learningRate),
                       "batch_size": settings.batchSize, "seed": settings.seed] as [String: Any],
            "epochs": epochs,
            "peak_rss_mib": peakResidentMiB ?? peakResidentMemoryMiB(),
        ]
        try writeJSON(document, to: path)
    }
}
