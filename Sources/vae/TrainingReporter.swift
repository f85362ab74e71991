import ArgumentParser
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

    /// Runs a training loop with Ctrl-C (SIGINT/SIGTERM) asking it to stop
    /// after the current step, then says how it ended: saved, or interrupted
    /// at `unit` N (batch b of `batches`) with the command that resumes it.
    func drive(_ loop: (_ shouldStop: @escaping () -> Bool) throws -> TrainingOutcome, path: String, saved: String, unit: String, batches: Int,
               resume: String, divergedNote: String = "") throws {
        let stop = StopRequest.install()
        defer { StopRequest.uninstall() }
        let outcome: TrainingOutcome
        do {
            outcome = try loop { stop.signal != nil }
        } catch let diverged as TrainingDiverged {
            clearLine()
            throw CLIError(diverged.description + divergedNote)
        } catch {
            clearLine()
            throw error
        }
        switch outcome {
        case .finished(let peak):
            say(String(format: "%@; peak memory %.0f MiB", saved, peak))
        case .interrupted(let p):
            clearLine()
            let at = p.batch > 0 ? "\(unit) \(p.epoch + 1), batch \(p.batch) of \(batches)" : "\(unit) \(p.epoch)"
            say("interrupted after \(at); saved \(path). Resume with: \(resume)")
            throw ExitCode(128 + (stop.signal ?? SIGINT))
        }
    }
}
