#include "engine/io/start_weights.hpp"

#include "engine/core/errors.hpp"
#include "engine/io/reader.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>

namespace plateau {

std::optional<WeightSource> parse_weight_source(std::string_view text) {
    WeightSource out{std::string(text), std::nullopt};
    if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
        const std::string_view digits = text.substr(colon + 1);
        std::int64_t run = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), run);
        if (!digits.empty() && ec == std::errc{} && end == digits.data() + digits.size() &&
            digits.front() != '-') {
            out.path = std::string(text.substr(0, colon));
            out.run = run;
        }
    }
    if (out.path.empty())
        return std::nullopt;
    return out;
}

namespace {

/// One key's weights into spec.start_weights.
void load_one(const CampaignSpec& spec, std::map<std::int64_t, StartWeights>& out,
              const std::string& key, const std::string& value, bool student) {
    const auto refuse = [&](const std::string& why) {
        throw ConfigError(key, value, std::string(weight_source_forms) + "; " + why);
    };
    const auto source = parse_weight_source(value);
    if (!source)
        refuse("the path is empty");
    std::optional<CampaignReader> reader;
    try {
        reader.emplace(CampaignReader::open(source->path));
    } catch (const CampaignReadError& e) {
        refuse("it cannot be read (" + printable(e.reason(), 200) + ")");
    }
    const auto& groups = reader->groups();
    if (std::none_of(groups.begin(), groups.end(),
                     [](const CampaignReader::GroupInfo& g) { return g.inputs > 0; }))
        refuse("the file has no saved weights (it was written with save-weights = none, or is "
               "a theory file)");
    std::int64_t first = -1;
    std::int64_t last = -1;
    for (const auto& g : groups)
        for (const std::int64_t r : g.run_index) {
            first = first < 0 ? r : std::min(first, r);
            last = std::max(last, r);
        }
    std::map<std::int64_t, CampaignReader::Weights> cache;
    for (std::int64_t r = 0; r < spec.runs(); ++r) {
        if (!spec.shard.contains(r))
            continue;
        const std::int64_t from = source->run.value_or(r);
        auto it = cache.find(from);
        if (it == cache.end()) {
            const auto where = reader->find_run(from);
            if (!where)
                refuse("run " + std::to_string(r) + " starts from run_index " +
                       std::to_string(from) + ", which the file does not hold (it holds " +
                       std::to_string(reader->metadata().runs) + " run(s), run_index " +
                       std::to_string(first) + " .. " + std::to_string(last) + ")");
            std::optional<CampaignReader::Weights> w;
            try {
                w = reader->read_weights(*where);
            } catch (const CampaignReadError& e) {
                refuse("its run_index " + std::to_string(from) + " cannot be read (" +
                       printable(e.reason(), 200) + ")");
            }
            if (!w)
                refuse("its run_index " + std::to_string(from) +
                       " has no saved weights (the run is pending)");
            if (!w->W.allFinite() || !w->B.allFinite() || !w->v.allFinite() ||
                !w->v_star.allFinite())
                refuse("the saved weights of its run_index " + std::to_string(from) +
                       " are not finite (the run diverged)");
            if (!source->run)
                cache.clear(); // a run each: keep only the one being read
            it = cache.emplace(from, std::move(*w)).first;
        }
        const CampaignReader::Weights& w = it->second;
        const ModelParams& m = spec.point_of(r).params.model;
        const Eigen::MatrixXd& rows = student ? w.W : w.B;
        const auto units =
            static_cast<Eigen::Index>(student ? m.student.hidden() : m.teacher.hidden());
        if (rows.rows() != units || rows.cols() != m.N)
            refuse("its run_index " + std::to_string(from) + " has " + (student ? "K" : "M") +
                   " = " + std::to_string(rows.rows()) + ", N = " + std::to_string(rows.cols()) +
                   "; run " + std::to_string(r) + " of this campaign has " + (student ? "K" : "M") +
                   " = " + std::to_string(units) + ", N = " + std::to_string(m.N));
        StartWeights& start = out[r];
        if (student) {
            start.W = w.W;
            start.v = w.v;
        } else {
            start.B = w.B;
            start.v_star = w.v_star;
        }
    }
}

} // namespace

void load_start_weights(CampaignSpec& spec) {
    if (spec.student_from.empty() && spec.teacher_from.empty())
        return;
    auto weights = std::make_shared<std::map<std::int64_t, StartWeights>>();
    if (!spec.student_from.empty())
        load_one(spec, *weights, "student-from", spec.student_from, true);
    if (!spec.teacher_from.empty())
        load_one(spec, *weights, "teacher-from", spec.teacher_from, false);
    spec.start_weights = std::move(weights);
}

} // namespace plateau
