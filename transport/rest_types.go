package transport

import (
	"time"

	"github.com/behaviorauth/engine/actors/enginepb"
)

// Wire bodies of the REST API (PROTOCOL.md "REST"; transport/openapi.yaml is the full reference). Requests are
// decoded strictly (decodeBody): a field not listed here is refused.

type registerRequest struct {
	Phone    string `json:"phone"`
	Password string `json:"password"`
	MPIN     string `json:"mpin"`
	Name     string `json:"name"`
}

type registerResponse struct {
	UserID string `json:"user_id"`
}

type loginRequest struct {
	Phone    string `json:"phone"`
	Password string `json:"password"`
	DeviceID string `json:"device_id"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type tokensResponse struct {
	UserID       string `json:"user_id"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

type mpinRequest struct {
	MPIN string `json:"mpin"`
}

type sessionGrantResponse struct {
	SessionID    string `json:"session_id"`
	SessionToken string `json:"session_token"`
	ExpiresAt    string `json:"expires_at"`
	WSURL        string `json:"ws_url"`
}

type sampleJSON struct {
	Field    string `json:"field,omitempty"`
	Modality string `json:"modality,omitempty"`
	Status   string `json:"status,omitempty"`
	// Risk is absent while the sample only enrolled (PROTOCOL.md).
	Risk *float64 `json:"risk,omitempty"`
}

type decisionJSON struct {
	Seq         int64       `json:"seq"`
	DecisionSeq int64       `json:"decision_seq"`
	Action      string      `json:"action"`
	Risk        float64     `json:"risk"`
	Mode        string      `json:"mode"`
	Sample      *sampleJSON `json:"sample"`
	Reasons     []string    `json:"reasons"`
	ReasonCodes []string    `json:"reason_codes"`
	LatencyUs   int64       `json:"latency_us"`
	At          string      `json:"at"`
}

type statusResponse struct {
	SessionID  string         `json:"session_id"`
	UserID     string         `json:"user_id"`
	State      string         `json:"state"`
	Risk       float64        `json:"risk"`
	Events     int64          `json:"events"`
	Samples    int64          `json:"samples"`
	Decisions  []decisionJSON `json:"decisions"`
	Node       string         `json:"node"`
	StartedAt  string         `json:"started_at,omitempty"`
	LastAction string         `json:"last_action,omitempty"`
	LastSeq    int64          `json:"last_seq"`
}

type challengeResponse struct {
	State string `json:"state"`
}

type summaryResponse struct {
	SessionID string  `json:"session_id"`
	Events    int64   `json:"events"`
	Samples   int64   `json:"samples"`
	Decisions int64   `json:"decisions"`
	FinalRisk float64 `json:"final_risk"`
	EndedAt   string  `json:"ended_at"`
	Reason    string  `json:"reason,omitempty"`
}

type feedbackRequest struct {
	SessionID   string `json:"session_id"`
	DecisionSeq *int64 `json:"decision_seq"`
	Label       string `json:"label"`
}

type feedbackResponse struct {
	FeedbackID string `json:"feedback_id"`
}

type profileFieldJSON struct {
	Field    string `json:"field"`
	Modality string `json:"modality"`
	Samples  int32  `json:"samples"`
	Enrolled bool   `json:"enrolled"`
	// Threshold is null until the field is enrolled (there is no calibrated threshold before).
	Threshold *float64 `json:"threshold"`
}

type profileResponse struct {
	UserID  string             `json:"user_id"`
	Fields  []profileFieldJSON `json:"fields"`
	Version int64              `json:"version"`
}

// maxStatusDecisions is how many of a session's last decisions GET /v1/sessions/{id} returns (PROTOCOL.md).
const maxStatusDecisions = 20

// wireTime formats a time for the wire: RFC 3339 in UTC, with milliseconds when it has them.
func wireTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func wireMillis(ms int64) string {
	if ms == 0 {
		return ""
	}
	return wireTime(time.UnixMilli(ms))
}

func decisionOf(d *enginepb.Decision) decisionJSON {
	out := decisionJSON{
		Seq: d.GetEventSeq(), DecisionSeq: d.GetSeq(), Action: d.GetAction(), Risk: d.GetRisk(), Mode: d.GetMode(),
		Reasons: make([]string, 0, len(d.GetReasons())), ReasonCodes: d.GetReasons(), LatencyUs: d.GetLatencyUs(),
		At: wireMillis(d.GetAtMs()),
	}
	for _, r := range d.GetReasons() {
		out.Reasons = append(out.Reasons, reasonHuman(r))
	}
	if out.ReasonCodes == nil {
		out.ReasonCodes = []string{}
	}
	// A decision the session took on its own (a challenge that expired) has no sample: null on the wire.
	if s := d.GetSample(); s != nil && (s.GetField() != "" || s.GetModality() != "" || s.GetStatus() != "") {
		sj := &sampleJSON{Field: s.GetField(), Modality: s.GetModality(), Status: s.GetStatus()}
		if s.GetHasRisk() {
			r := s.GetRisk()
			sj.Risk = &r
		}
		out.Sample = sj
	}
	return out
}

func statusOf(st *enginepb.Status) statusResponse {
	ds := st.GetDecisions()
	if len(ds) > maxStatusDecisions {
		ds = ds[len(ds)-maxStatusDecisions:]
	}
	out := statusResponse{
		SessionID: st.GetSessionId(), UserID: st.GetUserId(), State: st.GetState(), Risk: st.GetRisk(),
		Events: st.GetEvents(), Samples: st.GetSamples(), Decisions: make([]decisionJSON, 0, len(ds)),
		Node: st.GetNode(), StartedAt: wireMillis(st.GetStartedAtMs()), LastAction: st.GetLastAction(),
		LastSeq: st.GetLastSeq(),
	}
	for _, d := range ds {
		out.Decisions = append(out.Decisions, decisionOf(d))
	}
	return out
}

func summaryOf(s *enginepb.Summary) summaryResponse {
	return summaryResponse{
		SessionID: s.GetSessionId(), Events: s.GetEvents(), Samples: s.GetSamples(), Decisions: s.GetDecisions(),
		FinalRisk: s.GetFinalRisk(), EndedAt: wireMillis(s.GetEndedAtMs()), Reason: s.GetReason(),
	}
}

func profileOf(p *enginepb.Profile) profileResponse {
	out := profileResponse{UserID: p.GetUserId(), Version: p.GetVersion(), Fields: make([]profileFieldJSON, 0, len(p.GetFields()))}
	for _, f := range p.GetFields() {
		fj := profileFieldJSON{Field: f.GetField(), Modality: f.GetModality(), Samples: f.GetSamples(), Enrolled: f.GetEnrolled()}
		if f.GetEnrolled() {
			t := f.GetThreshold()
			fj.Threshold = &t
		}
		out.Fields = append(out.Fields, fj)
	}
	return out
}
