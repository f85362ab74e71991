import ArgumentParser
import CPUFeatures
import Foundation
import VAEData
import VAEInference

/// `vae`: train variational autoencoders on images and use them.
/// The root command only names the subcommands; each lives in its own file.
@main
struct VAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Train variational autoencoders on MNIST or your own images, and use them.",
        discussion: """
            Typical use:
              vae train                     train the default model (10 epochs) into model.safetensors
              vae train --beta 4            a β-VAE
              vae sample -n 16              a 4x4 grid of new digits in samples.png
              vae score --split test        anomaly scores (add --calibrate train for a threshold)
              vae interpolate a.png b.png   morph one digit into another
              vae plot curves run.json      training curves of a vae train --json run (PNG, SVG or PDF)
              vae reconstruct test:0-9 --noise 0.3
                                            denoise ten test digits
            --data DIR takes MNIST-style IDX files or images in class subfolders (DIR/<class>/*.png).
            Inputs are PNG or PGM files (prepared for the model) or test:N, train:N, test:A-B.
            """,
        version: "vae 0.1.0",
        subcommands: [Train.self, TrainPrior.self, Sample.self, Interpolate.self, Encode.self, Reconstruct.self,
                      Arithmetic.self, Traverse.self, Augment.self, Score.self, Anomaly.self, Eval.self, JudgeCommand.self, Plot.self, Bench.self, Export.self]
    )

    /// Parses, runs, and turns any error into one line on stderr and a
    /// non-zero exit (help and --version still print as usual).
    static func main() {
        // Before any code built for the numerical targets' instruction set runs.
        guard vae_cpu_is_supported() != 0 else {
            fail("this build of vae needs \(String(cString: vae_cpu_requirement())); build one for any x86-64 with VAE_BASELINE=1 swift build -c release", code: 1)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch let error as FileError {
            fail("\(error)", code: 1)
        } catch let error as CLIError {
            fail(error.message, code: 1)
        } catch let error as RequestError {
            fail(error.message, code: 1)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            let text = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail(text + " (see 'vae --help')", code: code.rawValue)
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("vae: \(message)\n".utf8))
        Foundation.exit(code)
    }
}

/// An error the CLI itself detects, said in one line.
struct CLIError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
