// The cost model's probe of per-run file writes (engine/campaign/cost_model.hpp, WriteProbe):
// tiny runs written to scratch campaign files by the campaign's own writer, flushes included.
#pragma once

#include "engine/campaign/cost_model.hpp"
#include "engine/io/writer.hpp"

#include <filesystem>
#include <optional>
#include <vector>

namespace plateau {

/// Writes finished runs of K = M = 1 with each of WriteProbe::probe_records record times to scratch
/// files ".plateau-write-probe-PID-R.h5" in `directory`, removed by the destructor. Throws
/// OutputError if the files cannot be created.
class FileWriteProbe final : public WriteProbe {
public:
    explicit FileWriteProbe(const std::filesystem::path& directory);
    ~FileWriteProbe() override;
    FileWriteProbe(const FileWriteProbe&) = delete;
    FileWriteProbe& operator=(const FileWriteProbe&) = delete;

    /// CPU seconds of this thread per run written (a few runs, written and flushed as a
    /// campaign's consumer does).
    [[nodiscard]] double once(int records) override;

private:
    struct Target {
        int records = 0;
        std::filesystem::path path;
        std::optional<CampaignWriter> writer;
        FinishedRun run;
        std::int64_t runs = 0; ///< runs in the file; the probe writes them round and round
    };
    std::vector<Target> targets_;
};

} // namespace plateau
