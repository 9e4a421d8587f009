from tickets.report import weekly_summary

if __name__ == "__main__":
    print(weekly_summary("data/tickets.csv"))
