// Start weights role: reads the weights runs start from (`student-from`, `teacher-from`) out of a
// campaign file with saved weights (analysis/SCHEMA.md "Saved weights") through CampaignReader,
// checking that they fit each run, before anything is computed or created.
#pragma once

#include "engine/campaign/campaign.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace plateau {

/// What `student-from` and `teacher-from` take: "FILE" (run r starts from run_index r of FILE)
/// or "FILE:RUN" (every run starts from run_index RUN).
struct WeightSource {
    std::string path;
    std::optional<std::int64_t> run;
};
inline constexpr std::string_view weight_source_forms =
    "none, FILE or FILE:RUN, a campaign file written with save-weights = initial, final or "
    "records (records: its final weights; run r starts from its run_index r, or from run_index "
    "RUN)";
/// "a.h5" -> {a.h5}, "a.h5:3" -> {a.h5, 3} (a path ending in ':' and digits takes them as RUN);
/// nullopt for an empty path.
[[nodiscard]] std::optional<WeightSource> parse_weight_source(std::string_view text);

/// Reads spec.student_from and spec.teacher_from (when set) into spec.start_weights, for the runs
/// of spec.shard. Throws ConfigError naming the key, its value and why (a file that cannot be
/// read as a campaign file or is damaged, one without saved weights, a run index it does not
/// hold or whose weights were not written, K, M or N that differ from the run's): nothing is
/// computed or created before this returns.
void load_start_weights(CampaignSpec& spec);

} // namespace plateau
